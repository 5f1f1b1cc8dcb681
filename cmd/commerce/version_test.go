package main

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "92807d6abc"}}
	for _, c := range []struct {
		name                 string
		version, commit      string
		info                 debug.BuildInfo
		wantVersion, wantRev string
	}{
		{"go install module@version", "dev", "dev", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0", "dev"},
		{"a build from a clone", "dev", "dev", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204183000-92807d6abc12+dirty"}, Settings: vcs},
			"v0.0.0-20261204183000-92807d6abc12+dirty", "92807d6abc"},
		{"make build stamps both", "v1.4.0-3-g92807d6", "92807d6", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-x"}, Settings: vcs},
			"v1.4.0-3-g92807d6", "92807d6"},
		{"a test binary", "dev", "dev", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", "dev"},
		{"no module version", "dev", "dev", debug.BuildInfo{}, "dev", "dev"},
	} {
		if v, rev := fromBuildInfo(c.version, c.commit, &c.info); v != c.wantVersion || rev != c.wantRev {
			t.Errorf("%s: %q, %q; want %q, %q", c.name, v, rev, c.wantVersion, c.wantRev)
		}
	}
}
