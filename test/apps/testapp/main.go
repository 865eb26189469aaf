// testapp is the one small application behind every workload of the local-cluster tests: a
// bookinfo-like front page, the reviews versions, ratings, plain backends and a TCP echo are
// all this program with different settings. It answers every HTTP request with JSON that says
// who answered (service, version, pod) and what arrived (headers), so a test can tell which
// subset a request reached and which headers the mesh added or forwarded.
//
//	testapp [serve flags]                  serve HTTP (and optionally TCP echo)
//	testapp client [flags] URL             send N requests, print a JSON tally of who answered
//
// Every serve flag can also come from the environment (flag wins): SERVICE, VERSION, PORT,
// UPSTREAMS (comma-separated URLs), UPSTREAM_TIMEOUT_MS, TCP_ECHO_PORT, DRAIN_SECONDS.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// forwardedHeaders are copied from the incoming request to every upstream call: the test user
// headers that route rules match on, and the tracing headers Envoy expects an application to
// propagate (it cannot join an inbound and an outbound request by itself).
var forwardedHeaders = []string{
	"x-test-user", "end-user",
	"x-request-id",
	"x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "b3",
	"traceparent", "tracestate", "x-ot-span-context",
}

type serveConfig struct {
	service         string
	version         string
	port            int
	upstreams       []string
	upstreamTimeout time.Duration
	tcpEchoPort     int
	drain           time.Duration
}

// upstreamResult is one upstream call as reported in the answer.
type upstreamResult struct {
	URL    string          `json:"url"`
	Status int             `json:"status,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
	Text   string          `json:"text,omitempty"`
	Error  string          `json:"error,omitempty"`
}

type answer struct {
	Service   string            `json:"service"`
	Version   string            `json:"version"`
	Hostname  string            `json:"hostname"`
	Pod       string            `json:"pod,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	Method    string            `json:"method"`
	Host      string            `json:"host"`
	Path      string            `json:"path"`
	Remote    string            `json:"remote"`
	Headers   map[string]string `json:"headers"`
	Upstreams []upstreamResult  `json:"upstreams,omitempty"`
}

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "client" {
		os.Exit(clientMain(args[1:]))
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	cfg, err := parseServe(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testapp: %v\n", err)
		os.Exit(2)
	}
	if err := serve(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "testapp: %v\n", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) (int, error) {
	v := envOr(name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer", name, v)
	}
	return n, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseServe(args []string) (serveConfig, error) {
	var cfg serveConfig
	port, err := envInt("PORT", 8080)
	if err != nil {
		return cfg, err
	}
	timeoutMs, err := envInt("UPSTREAM_TIMEOUT_MS", 3000)
	if err != nil {
		return cfg, err
	}
	echo, err := envInt("TCP_ECHO_PORT", 0)
	if err != nil {
		return cfg, err
	}
	drain, err := envInt("DRAIN_SECONDS", 0)
	if err != nil {
		return cfg, err
	}
	fs := flag.NewFlagSet("testapp", flag.ContinueOnError)
	fs.StringVar(&cfg.service, "service", envOr("SERVICE", "testapp"), "service name reported in answers")
	fs.StringVar(&cfg.version, "version", envOr("VERSION", "v1"), "version reported in answers")
	fs.IntVar(&cfg.port, "port", port, "HTTP port")
	upstreams := fs.String("upstreams", envOr("UPSTREAMS", ""), "comma-separated URLs called for every request (except /healthz)")
	fs.IntVar(&timeoutMs, "upstream-timeout-ms", timeoutMs, "timeout of one upstream call")
	fs.IntVar(&cfg.tcpEchoPort, "tcp-echo-port", echo, "also serve a line echo on this TCP port (0: off)")
	fs.IntVar(&drain, "drain-seconds", drain, "after SIGTERM keep serving this long before closing (shows endpoint removal before the stop)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.upstreams = splitList(*upstreams)
	cfg.upstreamTimeout = time.Duration(timeoutMs) * time.Millisecond
	cfg.drain = time.Duration(drain) * time.Second
	if cfg.port <= 0 || cfg.port > 65535 {
		return cfg, fmt.Errorf("port %d out of range", cfg.port)
	}
	return cfg, nil
}

func serve(cfg serveConfig) error {
	hostname, _ := os.Hostname()
	client := &http.Client{Timeout: cfg.upstreamTimeout}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		a := answer{
			Service:   cfg.service,
			Version:   cfg.version,
			Hostname:  hostname,
			Pod:       os.Getenv("POD_NAME"),
			Namespace: os.Getenv("POD_NAMESPACE"),
			Method:    r.Method,
			Host:      r.Host,
			Path:      r.URL.RequestURI(),
			Remote:    r.RemoteAddr,
			Headers:   map[string]string{},
		}
		for name, values := range r.Header {
			a.Headers[strings.ToLower(name)] = strings.Join(values, ", ")
		}
		status := http.StatusOK
		a.Upstreams = callUpstreams(r.Context(), client, cfg.upstreams, r.Header)
		for _, u := range a.Upstreams {
			if u.Error != "" || u.Status >= 400 {
				status = http.StatusBadGateway
			}
		}
		body, _ := json.Marshal(a)
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(append(body, '\n'))
	})

	srv := &http.Server{Addr: fmt.Sprintf(":%d", cfg.port), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	var echo net.Listener
	if cfg.tcpEchoPort > 0 {
		if echo, err = net.Listen("tcp", fmt.Sprintf(":%d", cfg.tcpEchoPort)); err != nil {
			return err
		}
		go serveEcho(echo, cfg.service+"/"+cfg.version)
	}
	fmt.Fprintf(os.Stderr, "testapp: %s/%s on :%d (upstreams %v, tcp echo %d)\n", cfg.service, cfg.version, cfg.port, cfg.upstreams, cfg.tcpEchoPort)

	// As PID 1 a signal without a handler is ignored, so the stop signals need one.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case sig := <-stop:
		fmt.Fprintf(os.Stderr, "testapp: %v, draining for %v\n", sig, cfg.drain)
		time.Sleep(cfg.drain)
	}
	if echo != nil {
		_ = echo.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// callUpstreams calls every upstream in parallel and keeps their order in the answer.
func callUpstreams(ctx context.Context, client *http.Client, urls []string, in http.Header) []upstreamResult {
	if len(urls) == 0 {
		return nil
	}
	out := make([]upstreamResult, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func(i int, u string) {
			defer wg.Done()
			out[i] = callOne(ctx, client, u, in)
		}(i, u)
	}
	wg.Wait()
	return out
}

func callOne(ctx context.Context, client *http.Client, url string, in http.Header) upstreamResult {
	res := upstreamResult{URL: url}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	for _, h := range forwardedHeaders {
		if v := in.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if json.Valid(body) {
		res.Body = json.RawMessage(body)
	} else {
		res.Text = string(body)
	}
	return res
}

// serveEcho answers every line with the same line prefixed by "<service>/<version> ", so a
// TCP client also learns which workload it reached.
func serveEcho(ln net.Listener, prefix string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if line != "" {
					if _, werr := io.WriteString(c, prefix+" "+line); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(conn)
	}
}

// headerList collects repeated -H flags.
type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, "; ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// tally is what `testapp client` prints: how many requests each service/version answered, at
// the top level and one level down (the front page's upstreams), and what failed.
type tally struct {
	Requests  int            `json:"requests"`
	OK        int            `json:"ok"`
	Errors    int            `json:"errors"`
	Statuses  map[string]int `json:"statuses"`
	Versions  map[string]int `json:"versions"`
	Upstreams map[string]int `json:"upstreams"`
	LastError string         `json:"lastError,omitempty"`
}

func clientMain(args []string) int {
	fs := flag.NewFlagSet("testapp client", flag.ContinueOnError)
	n := fs.Int("n", 1, "number of requests (sequential)")
	timeoutMs := fs.Int("timeout-ms", 3000, "timeout of one request")
	each := fs.Bool("each", false, "before the tally, print one JSON line per request: status, ms, the answer (or error)")
	var headers headerList
	fs.Var(&headers, "H", "request header 'name: value' (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *n < 1 || *n > 100000 {
		fmt.Fprintln(os.Stderr, "usage: testapp client [-n N (1..100000)] [-H 'name: value']... [-timeout-ms MS] [-each] URL")
		return 2
	}
	url := fs.Arg(0)
	client := &http.Client{Timeout: time.Duration(*timeoutMs) * time.Millisecond}
	t := tally{Statuses: map[string]int{}, Versions: map[string]int{}, Upstreams: map[string]int{}}
	for i := 0; i < *n; i++ {
		t.Requests++
		start := time.Now()
		r, err := clientOnce(client, url, headers, &t)
		if err != nil {
			t.Errors++
			t.LastError = err.Error()
			r.Error = err.Error()
		}
		if *each {
			r.Ms = float64(time.Since(start).Microseconds()) / 1000
			line, _ := json.Marshal(r)
			fmt.Println(string(line))
		}
	}
	out, _ := json.Marshal(t) // map keys come out sorted
	fmt.Println(string(out))
	return 0
}

// oneResult is what -each prints for one request.
type oneResult struct {
	Status int             `json:"status,omitempty"`
	Ms     float64         `json:"ms"`
	Body   json.RawMessage `json:"body,omitempty"`
	Text   string          `json:"text,omitempty"`
	Error  string          `json:"error,omitempty"`
}

func clientOnce(client *http.Client, url string, headers headerList, t *tally) (oneResult, error) {
	var r oneResult
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return r, err
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return r, errors.New("header without ':': " + h)
		}
		// Go sends req.Host, never a Host entry of req.Header.
		if strings.EqualFold(strings.TrimSpace(name), "host") {
			req.Host = strings.TrimSpace(value)
			continue
		}
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := client.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return r, err
	}
	r.Status = resp.StatusCode
	if json.Valid(body) {
		r.Body = json.RawMessage(body)
	} else {
		r.Text = string(body)
	}
	t.Statuses[strconv.Itoa(resp.StatusCode)]++
	if resp.StatusCode < 400 {
		t.OK++
	}
	var a answer
	if json.Unmarshal(body, &a) == nil && a.Service != "" {
		t.Versions[a.Service+"/"+a.Version]++
		for _, u := range a.Upstreams {
			var inner answer
			if len(u.Body) > 0 && json.Unmarshal(u.Body, &inner) == nil && inner.Service != "" {
				t.Upstreams[inner.Service+"/"+inner.Version]++
			} else {
				t.Upstreams["error"]++
			}
		}
	}
	return r, nil
}
