package distributed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tamkeen/tamkeen/libs/events"
)

// The JetStream domains of the two sites, as in k8s/ (nats.conf of the
// base and of overlays/dr).
const (
	primaryDomain = "primary"
	drDomain      = "dr"
)

// drillNATS is one site's NATS server: the primary accepts the DR site's
// leaf node connection; the DR server connects to it as a leaf node, in
// JetStream domain dr, as k8s/overlays/dr/nats.conf does.
type drillNATS struct {
	ns       *server.Server
	leafPort int // the primary's leaf node port
}

// startDrillNATS starts a NATS server with JetStream in domain, storing in
// dir; with leafRemote it connects to that primary as a leaf node.
func startDrillNATS(dir, name, domain, leafRemote string) (*drillNATS, error) {
	opts := &server.Options{
		ServerName: "tamkeen-" + name, Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, JetStreamDomain: domain, StoreDir: filepath.Join(dir, "nats-"+name),
		NoSigs: true, NoLog: true,
	}
	leafPort := 0
	if leafRemote == "" {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		leafPort = p
		opts.LeafNode.Host, opts.LeafNode.Port = "127.0.0.1", p
	} else {
		u, err := url.Parse(leafRemote)
		if err != nil {
			return nil, err
		}
		opts.LeafNode.Remotes = []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}
		opts.LeafNode.ReconnectInterval = 100 * time.Millisecond
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", name, err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats %s: not ready", name)
	}
	return &drillNATS{ns: ns, leafPort: leafPort}, nil
}

// leafAddr is the primary's leaf node address (port 7422 in k8s).
func (n *drillNATS) leafAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.leafPort) }

// kill ends the server at once (the primary site is gone).
func (n *drillNATS) kill() {
	if n != nil && n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}

func (n *drillNATS) connect() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(n.ns.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// mirrorStreams creates on the DR server a mirror of each service stream
// of the primary, pulled across the leaf node through the primary
// domain's JetStream API, as k8s/overlays/dr/streams.yaml declares them.
func (n *drillNATS) mirrorStreams(ctx context.Context) error {
	nc, js, err := n.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, s := range Services() {
		name := events.ServiceStream(s, 1).Name
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: name, Storage: jetstream.FileStorage, Replicas: 1, Retention: jetstream.LimitsPolicy,
			MaxAge: 720 * time.Hour, Discard: jetstream.DiscardOld,
			Mirror: &jetstream.StreamSource{Name: name, External: &jetstream.ExternalStream{
				APIPrefix: "$JS." + primaryDomain + ".API", DeliverPrefix: "deliver." + primaryDomain + "." + s,
			}},
		})
		if err != nil {
			return fmt.Errorf("mirror %s: %w", name, err)
		}
	}
	return nil
}

// streamState is what a site holds of one stream.
type streamState struct {
	Msgs     uint64
	Subjects []string
}

// streamStates reads the five service streams' message counts (and
// subjects) on a server.
func (n *drillNATS) streamStates(ctx context.Context) (map[string]streamState, error) {
	nc, js, err := n.connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	out := map[string]streamState{}
	for _, s := range Services() {
		st, err := js.Stream(ctx, events.ServiceStream(s, 1).Name)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", s, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return nil, err
		}
		out[s] = streamState{Msgs: info.State.Msgs, Subjects: info.Config.Subjects}
	}
	return out, nil
}

// promoteMirrors turns each DR mirror into a normal stream with its data
// and its service's subjects (docs/operations.md, "Promote the NATS
// streams"); the services then find their stream in place.
func (n *drillNATS) promoteMirrors(ctx context.Context, subjects map[string][]string) error {
	nc, js, err := n.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, s := range Services() {
		st, err := js.Stream(ctx, events.ServiceStream(s, 1).Name)
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		cfg := info.Config
		cfg.Mirror = nil
		cfg.Subjects = subjects[s]
		if len(cfg.Subjects) == 0 {
			cfg.Subjects = events.ServiceStream(s, 1).Subjects
		}
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("promote mirror %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// msgIDs counts the messages of each Nats-Msg-Id in a service's stream
// on the server.
func (n *drillNATS) msgIDs(ctx context.Context, service string) (map[string]int, error) {
	nc, js, err := n.connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	name := events.ServiceStream(service, 1).Name
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[string]int{}
	if info.State.Msgs == 0 {
		return ids, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{HeadersOnly: true})
	if err != nil {
		return nil, err
	}
	last := info.State.LastSeq
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return nil, err
		}
		got := 0
		var seq uint64
		for m := range batch.Messages() {
			got++
			ids[m.Headers().Get(nats.MsgIdHdr)]++
			if md, err := m.Metadata(); err == nil {
				seq = md.Sequence.Stream
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if seq >= last {
			return ids, nil
		}
		if got == 0 {
			// FetchNoWait found nothing ready yet: wait briefly.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// wanLink stands for the network between the sites: a TCP relay the DR
// server's leaf node connects through. Cutting it is the moment the
// primary site is lost to the DR site.
type wanLink struct {
	l     net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newWANLink(to string) (*wanLink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &wanLink{l: l, to: to}
	go w.serve()
	return w, nil
}

// URL is the leaf node URL the DR server dials.
func (w *wanLink) URL() string { return "nats-leaf://" + w.l.Addr().String() }

func (w *wanLink) serve() {
	for {
		c, err := w.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", w.to)
		if err != nil {
			c.Close()
			continue
		}
		w.mu.Lock()
		if w.cut {
			w.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		w.conns = append(w.conns, c, up)
		w.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// Cut closes the link and every connection through it.
func (w *wanLink) Cut() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut {
		return
	}
	w.cut = true
	w.l.Close()
	for _, c := range w.conns {
		c.Close()
	}
}
