package distributed

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// SMS is one message the SMS operator stand-in accepted.
type SMS struct {
	To, Text, Reference string
	// At is when the sink accepted it.
	At time.Time
}

// SMSSink stands in for the mobile operator's HTTP SMS gateway: the
// notification process sends through its real HTTP SMS provider
// (TAMKEEN_SMS_PROVIDER=http) to this server, which accepts every message
// and keeps it, so that codes can be read as a citizen's phone would. It
// answers a repeated Idempotency-Key with the first message's id, as an
// operator that de-duplicates does.
type SMSSink struct {
	srv *http.Server
	url string

	mu   sync.Mutex
	msgs []SMS
	ids  map[string]string // Idempotency-Key → id
}

// startSMSSink serves the sink on a free 127.0.0.1 port.
func startSMSSink() (*SMSSink, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &SMSSink{url: "http://" + lis.Addr().String() + "/sms", ids: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sms", s.accept)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(lis) }()
	return s, nil
}

func (s *SMSSink) accept(w http.ResponseWriter, r *http.Request) {
	var in struct {
		To        string `json:"to"`
		Text      string `json:"text"`
		Reference string `json:"reference"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil || in.To == "" {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	key := r.Header.Get("Idempotency-Key")
	id, seen := s.ids[key]
	if !seen || key == "" {
		id = fmt.Sprintf("sink-%d", len(s.msgs)+1)
		s.msgs = append(s.msgs, SMS{To: in.To, Text: in.Text, Reference: in.Reference, At: time.Now()})
		if key != "" {
			s.ids[key] = id
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":%q}`, id)
}

// URL is where the notification process posts SMS.
func (s *SMSSink) URL() string { return s.url }

// Messages returns the SMS sent to phone so far, oldest first.
func (s *SMSSink) Messages(to string) []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SMS
	for _, m := range s.msgs {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// Count is how many SMS the sink accepted in all.
func (s *SMSSink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// close stops the sink.
func (s *SMSSink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
