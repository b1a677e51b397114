package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// versionConfig is the command line of `tamkeen version`.
type versionConfig struct {
	outputFlag
}

// buildVersion is what `tamkeen version` reports, from the build
// information Go stamps into the binary.
type buildVersion struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	// Revision, Time and Modified are the VCS revision the binary was
	// built from (empty when built outside a repository, or with
	// -buildvcs=false).
	Revision string `json:"vcs_revision,omitempty"`
	Time     string `json:"vcs_time,omitempty"`
	Modified bool   `json:"vcs_modified"`
}

// revision and version are set by the linker where the build
// information has none: Go stamps the VCS revision only into a binary
// built from a single module, not in workspace mode (go.work) nor with
// -buildvcs=false (the images' reproducible builds), so those builds pass
// -ldflags "-X main.revision=$(git rev-parse HEAD) -X main.version=v…".
var revision, version string

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

// currentVersion reads the binary's build information.
func currentVersion() buildVersion {
	v := buildVersion{Module: "github.com/tamkeen/tamkeen/tools"}
	bi, ok := readBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{}
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	v.Version, v.GoVersion = bi.Main.Version, bi.GoVersion

	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if v.Revision == "" {
		v.Revision = revision
	}
	if version != "" && (v.Version == "" || v.Version == "(devel)") {
		v.Version = version
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

// runVersion prints the module version and VCS revision of the binary.
func runVersion(_ context.Context, cfg versionConfig, stdout io.Writer) error {
	v := currentVersion()
	if cfg.asJSON() {
		return writeJSON(stdout, v)
	}
	rev := v.Revision
	switch {
	case rev == "":
		rev = "unknown (built without VCS information)"
	case v.Modified:
		rev += " (with uncommitted changes)"
	}
	fmt.Fprintf(stdout, "tamkeen %s\nmodule:   %s\nrevision: %s\n", v.Version, v.Module, rev)
	if v.Time != "" {
		fmt.Fprintf(stdout, "committed: %s\n", v.Time)
	}
	fmt.Fprintf(stdout, "go:       %s\n", v.GoVersion)
	return nil
}
