package main

import "runtime/debug"

func init() {
	if info, ok := debug.ReadBuildInfo(); ok {
		version, commit = fromBuildInfo(version, commit, info)
	}
}

// fromBuildInfo returns the version and commit a binary reports: the ones
// stamped with -ldflags (`make build`) when set, else what the Go toolchain
// recorded in the binary, so that a `go install`ed commerce reports its
// module version (v1.2.3, or a pseudo-version) and a build from a clone its
// VCS revision; "dev" for what neither gives (a test binary).
func fromBuildInfo(version, commit string, info *debug.BuildInfo) (string, string) {
	if version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	if commit == "dev" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				commit = s.Value
			}
		}
	}
	return version, commit
}
