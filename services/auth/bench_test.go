package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/scope"
)

// Benchmarks of the costs a login or step-up pays; figures and the command
// are in docs/benchmarks.md. Run: go test ./services/auth -run '^$' -bench . -benchtime 2s

func BenchmarkPasswordVerify(b *testing.B) {
	for name, p := range map[string]HashParams{"owasp-19MiB-t2": DefaultHashParams, "test-8MiB-t1": testHashParams} {
		b.Run(name, func(b *testing.B) {
			h, err := hashSecret("zaytoun-olive-2026", p)
			must(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if ok, _, err := verifySecret("zaytoun-olive-2026", h); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

func BenchmarkTokenIssue(b *testing.B) {
	e := sqliteEnv(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.issueClientToken(ctx, Client{ID: "moh-portal", Ministry: "moh"}, []string{scope.ContentRead}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenVerify(b *testing.B) {
	e := sqliteEnv(b, nil)
	ctx := context.Background()
	pair, err := e.svc.issueClientToken(ctx, Client{ID: "moh-portal", Ministry: "moh"}, []string{scope.ContentRead})
	must(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.VerifyAccessToken(ctx, pair.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOTPVerify is a whole SMS step-up answer on SQLite: count the
// try, check the code, consume the challenge, start a token family, sign.
func BenchmarkOTPVerify(b *testing.B) {
	e := sqliteEnv(b, nil)
	ctx := context.Background()
	id, pair := e.citizen(b, "12345678")
	p := e.principal(b, pair.AccessToken)
	const code = "123456"
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		chID := fmt.Sprintf("otp_bench%d", i)
		now := e.clock.Now()
		must(b, insertChallenge(ctx, e.db, challengeRow{ID: chID, CitizenID: id, Purpose: purposeStepUp, Method: MethodSMS,
			CodeMAC: e.svc.codeMAC(chID, code), ExpiresAt: now.Add(time.Minute), CreatedAt: now}))
		b.StartTimer()
		if v, err := e.svc.VerifyOTPChallenge(ctx, p, chID, code); err != nil || v.Tokens == nil {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkTOTPMatch is the CPU part of a TOTP answer: three HMAC-SHA1
// codes compared in constant time.
func BenchmarkTOTPMatch(b *testing.B) {
	const secret = "JBSWY3DPEHPK3PXP"
	now := time.Unix(1_700_000_000, 0)
	code := generate(b, secret, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := matchTOTP(secret, code, now); !ok {
			b.Fatal("no match")
		}
	}
}
