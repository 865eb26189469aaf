module meshpilot.local/testapp

go 1.22
