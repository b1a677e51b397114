package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tamkeen/tamkeen/libs/events"
)

// This file is OpenID Connect Back-Channel Logout 1.0: when a session
// ends (RP-initiated logout, a citizen ending it, refresh-token reuse),
// each client that got tokens in it and registered a
// backchannel_logout_uri receives a logout token. The notice is written
// to the outbox in the transaction that ends the session (durable), and a
// consumer of the service's stream POSTs it, retrying with back-off.

// EventBackchannelLogout is the outbox subject of one pending logout
// notice (a client and a session); it carries ids, never a token.
const EventBackchannelLogout = "backchannel_logout"

// backchannelDurable is the consumer that delivers the notices.
const backchannelDurable = "auth-backchannel-logout"

// backchannelEvent is the URI of the logout token's only event.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenType is the typ of logout tokens (section 2.4).
const logoutTokenType = "logout+jwt"

// queueBackchannelLogout writes, inside tx, one notice per client of the
// session that registered a back-channel logout URI.
func (s *Service) queueBackchannelLogout(ctx context.Context, tx *sql.Tx, f familyRow) error {
	ids, err := sessionClients(ctx, tx, f.SessionID)
	if err != nil {
		return fmt.Errorf("auth: back-channel logout: %w", err)
	}
	for _, id := range ids {
		c, err := selectClient(ctx, tx, id)
		if err != nil || c.BackchannelLogoutURI == "" {
			continue
		}
		msg, err := structpb.NewStruct(map[string]any{"client_id": id, "sid": f.SessionID, "sub": f.CitizenID})
		if err != nil {
			return err
		}
		if err := s.command(ctx, tx, events.Subject(Name, EventBackchannelLogout), "tamkeen.auth.backchannel_logout.v1", msg); err != nil {
			return err
		}
	}
	return nil
}

// consumeBackchannelLogout delivers the notices until ctx ends: twelve
// attempts over about ten minutes (the bus's back-off), then the notice
// is dropped and logged.
func (s *Service) consumeBackchannelLogout(ctx context.Context) (func(), error) {
	return s.Bus.Consume(ctx, events.ConsumerConfig{
		Stream: s.cfg.Stream().Name, Durable: backchannelDurable,
		FilterSubjects: []string{events.Subject(Name, EventBackchannelLogout)},
		MaxDeliver:     12, AckWait: 30 * time.Second,
	}, s.deliverBackchannelLogout)
}

// deliverBackchannelLogout POSTs one logout token. A client that no
// longer has a URI (or is disabled) gets nothing; a 400 answer is final
// (the client refused the token, section 2.8); anything but 2xx is tried
// again.
func (s *Service) deliverBackchannelLogout(ctx context.Context, ev events.Event) error {
	var msg structpb.Struct
	if err := ev.UnmarshalData(&msg); err != nil {
		return events.Permanent(err)
	}
	m := msg.AsMap()
	clientID, _ := m["client_id"].(string)
	sid, _ := m["sid"].(string)
	sub, _ := m["sub"].(string)
	c, err := s.Client(ctx, clientID)
	if errors.Is(err, ErrClientNotFound) || err == nil && (c.Disabled || c.BackchannelLogoutURI == "") {
		return nil
	}
	if err != nil {
		return err
	}
	token, err := s.logoutToken(ctx, c, sub, sid)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI,
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return events.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.outboundHTTP().Do(req)
	if err != nil {
		return fmt.Errorf("auth: back-channel logout to %s: %w", clientID, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusBadRequest:
		s.Logger.WarnContext(ctx, "auth: back-channel logout refused by the client", "client_id", clientID)
		return events.Permanent(fmt.Errorf("auth: back-channel logout to %s: status 400", clientID))
	}
	return fmt.Errorf("auth: back-channel logout to %s: status %d", clientID, resp.StatusCode)
}

// logoutToken signs the logout token of a session for client c (section
// 2.4): typ logout+jwt, iss, aud, iat, exp, jti, sub, sid and the
// back-channel logout event; never a nonce. It is signed as the client's
// ID tokens are.
func (s *Service) logoutToken(ctx context.Context, c Client, sub, sid string) (string, error) {
	key, err := s.ring.signer(ctx)
	if err != nil {
		return "", err
	}
	if c.IDTokenAlg == AlgRS256 {
		if key, err = s.ring.signerRSA(ctx); err != nil {
			return "", err
		}
	}
	jti, err := s.randomToken("")
	if err != nil {
		return "", err
	}
	now := s.Now()
	claims := jwt.MapClaims{
		"iss": s.cfg.Issuer, "aud": c.ID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": jti,
		"sid": sid, "events": map[string]any{backchannelEvent: map[string]any{}},
	}
	if sub != "" {
		claims["sub"] = sub
	}
	return key.sign(claims, logoutTokenType)
}
