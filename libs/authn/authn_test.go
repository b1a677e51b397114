package authn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/jwks"
)

func TestToken(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Bearer abc.def.ghi":   "abc.def.ghi",
		"bearer abc":           "abc",
		"  BEARER   abc  ":     "abc",
		"Basic dXNlcjpwYXNz":   "",
		"Bearer":               "",
		"Bearer ":              "",
		"Bearer a b":           "",
		"abc.def.ghi":          "",
		"Bearer\tabc.def.ghi":  "",
		"Bearerabc.def.ghi":    "",
		"Bearer abc\r\nX: y":   "",
		"Bearer a,b":           "",
		`Bearer "abc"`:         "",
		"Token abc.def.ghi":    "",
		"":                     "",
		"Bearer eyJ.eyJ.sig==": "eyJ.eyJ.sig==",
	} {
		got, ok := authn.Token(in)
		if got != want || ok != (want != "") {
			t.Errorf("Token(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func incoming(vals ...string) context.Context {
	md := metadata.MD{}
	for _, v := range vals {
		md.Append(authn.MetadataKey, v)
	}
	return metadata.NewIncomingContext(context.Background(), md)
}

func TestFromIncoming(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		ctx         context.Context
		token       string
		present, ok bool
	}{
		{"no metadata", context.Background(), "", false, false},
		{"no authorization", incoming(), "", false, false},
		{"empty value", incoming(""), "", false, false},
		{"bearer", incoming("Bearer abc"), "abc", true, true},
		{"lower-case scheme", incoming("bearer abc"), "abc", true, true},
		{"basic", incoming("Basic abc"), "", true, false},
		{"two values", incoming("Bearer abc", "Bearer def"), "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, present, ok := authn.FromIncoming(tc.ctx)
			if tok != tc.token || present != tc.present || ok != tc.ok {
				t.Errorf("FromIncoming = %q, %v, %v; want %q, %v, %v", tok, present, ok, tc.token, tc.present, tc.ok)
			}
		})
	}
}

// fakeVerifier accepts "good" (and "nosub", without a subject) and
// answers err for anything else.
type fakeVerifier struct{ err error }

func (f fakeVerifier) Verify(_ context.Context, raw string) (*jwks.Claims, error) {
	switch raw {
	case "good":
		return &jwks.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "moh"}, ClientID: "moh", Scope: "a:read b:write"}, nil
	case "nosub":
		return &jwks.Claims{}, nil
	}
	return nil, f.err
}

func TestVerify(t *testing.T) {
	t.Parallel()
	expired := fmt.Errorf("%w at 2026-01-01T00:00:00Z", jwks.ErrExpired)
	outage := fmt.Errorf("%w: %w", jwks.ErrJWKSUnavailable, errors.New("dial tcp: connection refused"))
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		code codes.Code
		msg  string
	}{
		{"valid", incoming("Bearer good"), nil, codes.OK, ""},
		{"no token", context.Background(), nil, codes.Unauthenticated, authn.MissingToken},
		{"not bearer", incoming("Basic Zm9vOmJhcg=="), nil, codes.Unauthenticated, authn.MissingToken},
		{"two tokens", incoming("Bearer good", "Bearer good"), nil, codes.Unauthenticated, authn.MissingToken},
		{"refused", incoming("Bearer old"), expired, codes.Unauthenticated, jwks.Description(expired)},
		{"no subject", incoming("Bearer nosub"), nil, codes.Unauthenticated, authn.NoSubject},
		{"keys unavailable", incoming("Bearer any"), outage, codes.Unavailable, "token signing keys unavailable; try again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := authn.Verify(tc.ctx, fakeVerifier{tc.err}, nil)
			st := status.Convert(err)
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Fatalf("Verify = %v, %q; want %v, %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			if tc.code == codes.OK && (c == nil || c.Subject != "moh") {
				t.Errorf("claims = %+v; want subject moh", c)
			}
		})
	}
}

func TestRequireScope(t *testing.T) {
	t.Parallel()
	c := &jwks.Claims{Scope: "a:read b:write"}
	if err := authn.RequireScope(c, "b:write"); err != nil {
		t.Errorf("RequireScope(b:write) = %v; want nil", err)
	}
	err := authn.RequireScope(c, "b:read")
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "the token lacks the b:read scope" {
		t.Errorf("RequireScope(b:read) = %v, %q; want PermissionDenied naming the scope", st.Code(), st.Message())
	}
}

func TestRequireStepUp(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		acr      string
		authTime time.Time
		want     string // "" for nil, else a part of the challenge
	}{
		{"fresh loa2", "loa2", now.Add(-299 * time.Second), ""},
		{"exactly max age", "loa2", now.Add(-300 * time.Second), ""},
		{"stale loa2", "loa2", now.Add(-301 * time.Second), "older than 300 seconds"},
		{"loa1", "loa1", now, "acr loa2"},
		{"no acr", "", now, "acr loa2"},
		{"no auth_time", "loa2", time.Time{}, "no auth_time"},
	} {
		err := authn.RequireStepUp(tc.acr, tc.authTime, now, 300*time.Second)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v; want nil", tc.name, err)
			}
			continue
		}
		msg := status.Convert(err).Message()
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(msg, tc.want) ||
			!strings.HasPrefix(msg, `Bearer error="insufficient_user_authentication"`) || !strings.HasSuffix(msg, `acr_values="loa2", max_age=300`) {
			t.Errorf("%s: %v; want Unauthenticated with the RFC 9470 challenge saying %q", tc.name, err, tc.want)
		}
	}
}
