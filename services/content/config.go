package content

import (
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
)

// Config is the content enabler's own configuration.
type Config struct {
	// EnablerConfig is the stream replicas and the verification of the
	// callers' access tokens every enabler has.
	host.EnablerConfig

	// SchedulerInterval is how often the scheduler looks for due
	// publications and expiries; SchedulerLease is how long one replica
	// holds the scheduler before another may take over.
	SchedulerInterval time.Duration `flag:"content-scheduler-interval" default:"5s" usage:"how often scheduled publications and expiries are applied"`
	SchedulerLease    time.Duration `flag:"content-scheduler-lease" default:"30s" usage:"how long one replica holds the scheduler lease"`

	// PublicMaxAge is the Cache-Control max-age of public content;
	// PublicCacheTTL how long a replica keeps a public item in memory.
	PublicMaxAge   time.Duration `flag:"content-public-max-age" default:"60s" usage:"Cache-Control max-age of the public content API"`
	PublicCacheTTL time.Duration `flag:"content-public-cache-ttl" default:"2s" usage:"how long a replica caches a public item in memory (0 disables)"`

	// FourEyesOff lists the ministries (one-person teams) whose editors
	// may approve a version they wrote or submitted themselves; every
	// other ministry has four-eyes review. The platform team sets it, not
	// the ministry: the control guards against the ministry's own accounts.
	FourEyesOff []string `flag:"content-four-eyes-off" usage:"ministries whose editors may approve their own versions (one-person teams), e.g. moh,mol"`
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var p config.Problems
	c.CheckStream(&p)
	c.CheckTokens(&p)
	if c.SchedulerInterval < 10*time.Millisecond {
		p.Add("content-scheduler-interval", "must be at least 10ms")
	}
	if c.SchedulerLease < 2*c.SchedulerInterval {
		p.Add("content-scheduler-lease", "must be at least twice content-scheduler-interval")
	}
	if c.PublicMaxAge < 0 || c.PublicMaxAge > 24*time.Hour {
		p.Add("content-public-max-age", "must be between 0 and 24h")
	}
	if c.PublicCacheTTL < 0 || c.PublicCacheTTL > time.Minute {
		p.Add("content-public-cache-ttl", "must be between 0 and 1m")
	}
	return p.Err()
}
