package notification

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// LimitError says which limit a request ran into and when to try again;
// the gRPC adapter answers it with RESOURCE_EXHAUSTED (HTTP 429) and
// Retry-After.
type LimitError struct {
	// Limit names the limit: "recipient-hourly", "client-minute" or
	// "client-daily".
	Limit string
	// RetryAfter is when the window has room again.
	RetryAfter time.Duration
}

// Error names the limit, never the recipient.
func (e *LimitError) Error() string {
	switch e.Limit {
	case "recipient-hourly":
		return "too many messages to this recipient in the last hour"
	case "client-minute":
		return "too many messages from this client in the last minute"
	default:
		return "this client's daily message limit is reached"
	}
}

// twoDigitCodes are the two-digit calling codes; with 1 and 7 (one digit)
// every other code has three digits (ITU-T E.164 codes are prefix-free).
const twoDigitCodes = "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 " +
	"60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 "

// CallingCode returns the country calling code of an E.164 number
// ("+970599…" → "970"), or "" when phone is not E.164.
func CallingCode(phone string) string {
	if !ValidE164(phone) {
		return ""
	}
	d := phone[1:]
	switch {
	case d[0] == '1' || d[0] == '7':
		return d[:1]
	case strings.Contains(" "+twoDigitCodes, " "+d[:2]+" "):
		return d[:2]
	}
	return d[:3]
}

// validCallingCode accepts 1 to 3 digits not starting with 0.
func validCallingCode(s string) bool {
	if len(s) < 1 || len(s) > 3 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkLimits refuses a send of count messages by client (to recipient,
// for single SMS) that would go over a configured limit. The counts come
// from the notifications table, so they hold across replicas; two racing
// requests may both pass at the edge, which these limits tolerate.
func (s *Service) checkLimits(ctx context.Context, client, channel, recipient string, bulk bool, count int) error {
	now := s.nowUTC()
	if !bulk && channel == ChannelSMS && s.cfg.RecipientHourlyLimit > 0 {
		since := now.Add(-time.Hour)
		n, oldest, err := countSince(ctx, s.DB, `recipient = $1 AND channel = 'sms' AND lane <> 'otp'`, recipient, since, s.cfg.RecipientHourlyLimit)
		if err != nil {
			return err
		}
		if n >= s.cfg.RecipientHourlyLimit {
			return &LimitError{Limit: "recipient-hourly", RetryAfter: retryAfter(oldest.Add(time.Hour).Sub(now))}
		}
	}
	if !bulk && s.cfg.ClientMinuteLimit > 0 {
		since := now.Add(-time.Minute)
		n, oldest, err := countSince(ctx, s.DB, `client_id = $1 AND lane = 'normal'`, client, since, s.cfg.ClientMinuteLimit)
		if err != nil {
			return err
		}
		if n >= s.cfg.ClientMinuteLimit {
			return &LimitError{Limit: "client-minute", RetryAfter: retryAfter(oldest.Add(time.Minute).Sub(now))}
		}
	}
	if s.cfg.ClientDailyLimit > 0 {
		midnight := now.Truncate(24 * time.Hour)
		n, err := countSinceMidnight(ctx, s.DB, client, midnight)
		if err != nil {
			return fmt.Errorf("notification: daily count: %w", err)
		}
		if n+count > s.cfg.ClientDailyLimit {
			return &LimitError{Limit: "client-daily", RetryAfter: retryAfter(midnight.Add(24 * time.Hour).Sub(now))}
		}
	}
	return nil
}

// retryAfter rounds d up to whole seconds, at least one.
func retryAfter(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return d.Truncate(time.Second) + time.Second
}
