// Types for scripts/cluster/host-files.mjs.
/** apt-get installs those of `packages` that dpkg does not list as installed (root only). */
export declare function ensureDebPackages(packages: string[], log: (msg: string) => void): Promise<void>;
/** Shared objects (and the loader) that `ldd` lists for the files, sorted. */
export declare function lddClosure(files: string[]): Promise<string[]>;
/** Whether an ELF file has a program interpreter. */
export declare function isDynamicElf(path: string): boolean;
/** sha256 of file contents, remembered by inode, size and times in a JSON file. */
export declare function fileDigests(memoPath: string): {
  digest(path: string): { sha256: string; size: number };
  save(): void;
};
