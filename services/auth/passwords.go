package auth

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

//go:embed commonpasswords/common-passwords.txt
var commonPasswordList string

// commonPasswords is the embedded list as a set, built on first use. It is
// immutable once built.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 30000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordList))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

// isCommonPassword reports whether pw is on the shipped list of common
// passwords, ignoring case.
func isCommonPassword(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(pw)]
	return ok
}

// Password length limits, in characters (NIST SP 800-63B).
const (
	minPasswordRunes = 8
	maxPasswordRunes = 128
)

// checkPassword applies the password policy: 8 to 128 characters, not a
// common password, not the national ID or phone number. The reason never
// echoes the password.
func checkPassword(pw string, personal ...string) *rpcerr.FieldError {
	n := utf8.RuneCountInString(pw)
	if !utf8.ValidString(pw) {
		return &rpcerr.FieldError{Field: "password", Reason: "must be valid UTF-8 text", Code: "password.encoding"}
	}
	if n < minPasswordRunes || n > maxPasswordRunes {
		return &rpcerr.FieldError{Field: "password", Reason: "must be 8 to 128 characters", Code: "password.length", Args: rpcerr.ArgList(strconv.Itoa(minPasswordRunes), strconv.Itoa(maxPasswordRunes))}
	}
	if isCommonPassword(pw) {
		return &rpcerr.FieldError{Field: "password", Reason: "is too common: choose a less predictable password", Code: "password.common"}
	}
	for _, p := range personal {
		if p != "" && strings.Contains(pw, strings.TrimPrefix(p, "+")) {
			return &rpcerr.FieldError{Field: "password", Reason: "must not contain your national ID or phone number", Code: "password.personal"}
		}
	}
	return nil
}

// RetryError is a refusal the caller may retry after a while: a locked
// account, an SMS cap, too many hashes in flight. The gRPC layer answers
// RESOURCE_EXHAUSTED with a RetryInfo (HTTP 429 with Retry-After).
type RetryError struct {
	// Msg is safe to show the caller.
	Msg string
	// After is how long to wait; it is rounded up to whole seconds.
	After time.Duration
}

// Error returns Msg.
func (e *RetryError) Error() string { return e.Msg }

// retryAfter rounds d up to whole seconds, at least one.
func retryAfter(msg string, d time.Duration) *RetryError {
	secs := (d + time.Second - 1) / time.Second
	if secs < 1 {
		secs = 1
	}
	return &RetryError{Msg: msg, After: secs * time.Second}
}

// hasher bounds the argon2id computations in flight: each holds the
// configured memory (19 MiB by default), so a burst of logins waits for a
// slot instead of exhausting memory, and is refused after a while.
type hasher struct {
	slots chan struct{}
	wait  time.Duration
}

func newHasher(n int, wait time.Duration) *hasher {
	return &hasher{slots: make(chan struct{}, n), wait: wait}
}

// acquire takes a slot, waiting at most h.wait or until ctx ends; release
// must be called after.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return retryAfter("too many logins in progress; retry shortly", time.Second)
	}
}

func (h *hasher) release() { <-h.slots }

// hash computes the argon2id PHC string of secret within a slot.
func (h *hasher) hash(ctx context.Context, secret string, p HashParams) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return hashSecret(secret, p)
}

// verify checks secret against a PHC string within a slot, in constant
// time, and returns the parameters the hash was made with.
func (h *hasher) verify(ctx context.Context, secret, phc string) (bool, HashParams, error) {
	if err := h.acquire(ctx); err != nil {
		return false, HashParams{}, err
	}
	defer h.release()
	ok, p, err := verifySecret(secret, phc)
	if err != nil {
		return false, HashParams{}, fmt.Errorf("auth: verify password: %w", err)
	}
	return ok, p, nil
}
