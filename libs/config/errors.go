package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSpec reports a mistake in a Config struct's definition (not in the
// operator's input): an unsupported field kind, a malformed tag, a default
// that does not parse or a name used twice.
var ErrSpec = errors.New("config: invalid config struct")

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Flag is the flag name without dashes ("grpc-addr"); empty when the
	// problem concerns no single setting.
	Flag string
	// Env is the environment variable of the setting ("TAMKEEN_GRPC_ADDR");
	// empty when unknown.
	Env string
	// Message says what is wrong, e.g. "required".
	Message string
}

// String renders the problem as "--flag / ENV: message".
func (p Problem) String() string {
	switch {
	case p.Flag != "" && p.Env != "":
		return fmt.Sprintf("--%s / %s: %s", p.Flag, p.Env, p.Message)
	case p.Flag != "":
		return fmt.Sprintf("--%s: %s", p.Flag, p.Message)
	case p.Env != "":
		return fmt.Sprintf("%s: %s", p.Env, p.Message)
	default:
		return p.Message
	}
}

// Error is returned by Load when the configuration is invalid; it lists every
// problem found: command-line syntax errors first, then the settings in the
// order of the struct's fields, then what Validate reported.
type Error struct {
	Problems []Problem
}

// Error renders all problems, one per line, under "invalid configuration:".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Problems collects findings inside a Config's Validate method:
//
//	func (c Config) Validate() error {
//		var p config.Problems
//		if c.TokenTTL < time.Minute {
//			p.Add("token-ttl", "must be at least 1m")
//		}
//		return p.Err()
//	}
//
// The zero value is ready to use.
type Problems struct {
	list []Problem
}

// Add records that the setting named field is wrong. field is the setting's
// flag name ("auth-token-ttl") or its Go field path ("Auth.TokenTTL"); Load
// resolves either to the flag and environment variable. An empty field
// records a problem with the configuration as a whole (e.g. two settings that
// exclude each other).
func (p *Problems) Add(field, msg string) {
	p.list = append(p.list, Problem{Flag: field, Message: msg})
}

// Addf is Add with a format string.
func (p *Problems) Addf(field, format string, args ...any) {
	p.Add(field, fmt.Sprintf(format, args...))
}

// Range records "<v> is outside lo..hi" for field when v is not between lo
// and hi inclusive: the bounds check of most counts a Config has (replicas,
// attempts, hash costs), worded the same everywhere.
func (p *Problems) Range(field string, v, lo, hi int) {
	if v < lo || v > hi {
		p.Addf(field, "%d is outside %d..%d", v, lo, hi)
	}
}

// Len reports how many problems were recorded.
func (p *Problems) Len() int { return len(p.list) }

// Err returns nil when nothing was recorded and *Error otherwise.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &Error{Problems: append([]Problem(nil), p.list...)}
}
