package notification

import (
	"testing"
	"time"
)

// TestDeliveryRetrySchedules: callbacks wait RetryBase doubling (capped
// at an hour) and give up at the tenth attempt; webhooks wait each of
// their back-off in turn and give up after the last.
func TestDeliveryRetrySchedules(t *testing.T) {
	t.Parallel()
	s := &Service{cfg: Config{RetryBase: 10 * time.Minute}, backoff: []time.Duration{time.Minute, 5 * time.Minute}}
	for _, tc := range []struct {
		name  string
		queue outbound
		n     int
		wait  time.Duration
		again bool
	}{
		{"callback 1", s.callbackQueue(), 1, 10 * time.Minute, true},
		{"callback 2", s.callbackQueue(), 2, 20 * time.Minute, true},
		{"callback 3", s.callbackQueue(), 3, 40 * time.Minute, true},
		{"callback 4 capped", s.callbackQueue(), 4, time.Hour, true},
		{"callback 9", s.callbackQueue(), 9, time.Hour, true},
		{"callback 10 fails", s.callbackQueue(), 10, 0, false},
		{"webhook 1", s.webhookQueue(), 1, time.Minute, true},
		{"webhook 2", s.webhookQueue(), 2, 5 * time.Minute, true},
		{"webhook 3 fails", s.webhookQueue(), 3, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, again := tc.queue.retry(tc.n)
			if again != tc.again || (again && wait != tc.wait) {
				t.Errorf("retry(%d) = %v, %v; want %v, %v", tc.n, wait, again, tc.wait, tc.again)
			}
		})
	}
}
