package host

import (
	"flag"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/libs/config"
)

// TestEnablerConfigFlags checks that an enabler embedding EnablerConfig
// gets the four shared flags and variables, with their defaults.
func TestEnablerConfigFlags(t *testing.T) {
	var cfg struct {
		EnablerConfig
		Own string `flag:"own" default:"x" usage:"an enabler's own setting"`
	}
	env := map[string]string{"TAMKEEN_STREAM_REPLICAS": "3", "TAMKEEN_JWKS_URL": "https://id.example/keys"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := config.Load(&cfg, flag.NewFlagSet("t", flag.ContinueOnError), []string{"--audience", "ministry"}, lookup); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.StreamReplicas != 3 || cfg.JWKSURL != "https://id.example/keys" || cfg.Audience != "ministry" || cfg.Issuer != "http://127.0.0.1:8080" || cfg.Own != "x" {
		t.Fatalf("got %+v; want replicas 3, the env JWKS URL, audience ministry, the default issuer", cfg)
	}
	if got := cfg.ServiceStream("payment").Replicas; got != 3 {
		t.Errorf("ServiceStream replicas = %d; want 3", got)
	}
}

func TestEnablerConfigChecks(t *testing.T) {
	tokens := func(issuer, jwksURL, audience string) EnablerConfig {
		var c EnablerConfig
		c.StreamReplicas, c.Issuer, c.JWKSURL, c.Audience = 1, issuer, jwksURL, audience
		return c
	}
	withReplicas := func(c EnablerConfig, n int) EnablerConfig { c.StreamReplicas = n; return c }
	for _, tc := range []struct {
		name string
		cfg  EnablerConfig
		want []string // flags named in the problems
	}{
		{"valid", tokens("https://tamkeen.example", "", "tamkeen"), nil},
		{"replicas", withReplicas(tokens("https://tamkeen.example", "", "tamkeen"), 6), []string{"stream-replicas"}},
		{"issuer", tokens("ftp://x", "", "tamkeen"), []string{"issuer"}},
		{"everything", withReplicas(tokens("", "not a url", ""), 0), []string{"stream-replicas", "issuer", "jwks-url", "audience"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p config.Problems
			tc.cfg.CheckStream(&p)
			tc.cfg.CheckTokens(&p)
			err := p.Err()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("problems %v; want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no problems; want %v", tc.want)
			}
			for _, f := range tc.want {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("problems %q do not name %s", err, f)
				}
			}
		})
	}
}
