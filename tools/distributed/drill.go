package distributed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// drillDBPrefix names the databases in the drill's own clusters.
const drillDBPrefix = "tamkeen_"

// DrillOptions configures a disaster-recovery drill (RunDrill).
type DrillOptions struct {
	// RepoRoot is the directory holding go.work.
	RepoRoot string
	// BinDir holds the binaries; empty builds them into the drill's
	// temporary directory.
	BinDir string
	// PostgresBin is the bin directory of initdb, pg_ctl and
	// pg_basebackup; empty means FindPostgresBin.
	PostgresBin string
	// Load is how long the load runs on the primary before the cut; 0
	// means 10 s.
	Load time.Duration
	// Workers is the number of concurrent load clients; 0 means 4.
	Workers int
	// Logger reports the drill's steps; nil discards them.
	Logger *slog.Logger
	// Output receives the processes' log lines (see Options.Output).
	Output io.Writer
	// Replication is how the DR cluster follows the primary:
	// ReplicationSync (the zero value) or ReplicationArchive.
	Replication string
	// ArchiveTimeout is the primary's archive_timeout with
	// ReplicationArchive; empty means CloudNativePG's default, 5min.
	ArchiveTimeout string
}

// The DR cluster's replication in a drill.
const (
	// ReplicationSync streams WAL to the DR cluster, listed in
	// synchronous_standby_names: a commit waits for it.
	ReplicationSync = "sync"
	// ReplicationArchive ships WAL through an archive directory, as the
	// k8s DR overlay's replica clusters replay the primary's WAL archive:
	// asynchronous, at least one segment every ArchiveTimeout.
	ReplicationArchive = "archive"
)

// DrillReport is what a drill measured.
type DrillReport struct {
	// Replication says how the DR cluster followed the primary.
	Replication string
	// Payments is how many payments the gateway answered 201 Created on
	// the primary (committed); PaymentsMissing of them are not in the DR
	// site's payment database.
	Payments, PaymentsMissing int
	// Paid is how many of them the load saw succeed on the primary
	// (checkout, webhook); PaidLost of them are not succeeded on DR.
	Paid, PaidLost int
	// Registrations is how many citizen registrations were answered 201
	// on the primary; RegistrationsMissing are not in DR's auth database.
	Registrations, RegistrationsMissing int
	// OTPs is how many registrations' OTP SMS reached the phone stand-in
	// on the primary, OTPsOnDR how many from the DR side after the
	// fail-over (an OTP command still in an outbox at the cut), OTPsTwice
	// how many phones got it from both, and OTPsNever how many got none:
	// the command queue is not mirrored, by design (a code is useless
	// after a fail-over); the citizen asks for a new code.
	OTPs, OTPsOnDR, OTPsTwice, OTPsNever int
	// OutboxPending is how many outbox rows the promoted databases held
	// unpublished: events committed but not yet relayed at the cut,
	// published from the DR side after the fail-over.
	OutboxPending int
	// EventsPrimary is how many events the primary's five service streams
	// held at the cut; EventsMirrored how many of them the DR mirrors had.
	EventsPrimary, EventsMirrored uint64
	// EventsLost is how many events of the primary's streams are in no
	// DR stream after the fail-over (published before the cut, neither
	// mirrored nor left in an outbox); EventsDuplicated how many event ids
	// a DR stream holds twice (mirrored, then published again from an
	// outbox row the cut left unmarked).
	EventsLost, EventsDuplicated int
	// RTO is from the cut to the first payment that succeeded on the DR
	// side; DRStart is the part of it spent restarting the topology there.
	RTO, DRStart time.Duration
	// LedgerCheck is `tamkeen ledger check`'s output on the DR database.
	LedgerCheck string
}

// Print writes the report as the drill prints it.
func (r *DrillReport) Print(w io.Writer) {
	fmt.Fprintf(w, "DR drill report (PostgreSQL replication: %s)\n", r.Replication)
	fmt.Fprintf(w, "  RPO committed payments:   %d missing of %d (paid before the cut: %d, not paid on DR: %d)\n", r.PaymentsMissing, r.Payments, r.Paid, r.PaidLost)
	fmt.Fprintf(w, "  RPO registrations:        %d missing of %d\n", r.RegistrationsMissing, r.Registrations)
	fmt.Fprintf(w, "  their OTP SMS:            %d sent by the primary, %d by DR after the fail-over, %d by both, %d never (in flight at the cut; the OTP queue is not mirrored)\n", r.OTPs, r.OTPsOnDR, r.OTPsTwice, r.OTPsNever)
	fmt.Fprintf(w, "  RPO events:               %d lost of %d in the primary's streams (mirrored at the cut: %d; duplicated on DR: %d)\n", r.EventsLost, r.EventsPrimary, r.EventsMirrored, r.EventsDuplicated)
	fmt.Fprintf(w, "  outbox rows relayed on DR: %d (committed before the cut, not yet published)\n", r.OutboxPending)
	fmt.Fprintf(w, "  RTO:                      %.1f s to the first successful payment on DR (topology restart %.1f s)\n", r.RTO.Seconds(), r.DRStart.Seconds())
	fmt.Fprintf(w, "  ledger check on DR:       %s\n", strings.TrimSpace(r.LedgerCheck))
}

// RunDrill runs the disaster-recovery drill on this machine and returns
// what it measured. It creates, in a temporary directory it removes at
// the end (on failure too):
//
//   - a primary PostgreSQL cluster and a streaming replica made with
//     pg_basebackup, listed in synchronous_standby_names (a commit
//     returns once the replica has its WAL);
//   - a primary NATS server (JetStream domain primary) and a DR server
//     (domain dr) connected to it as a leaf node through a relay standing
//     for the network between the sites, mirroring the five service
//     streams as k8s/overlays/dr/streams.yaml does;
//   - the distributed topology (Start) on the primary's cluster and NATS.
//
// Load (payments paid through the sandbox acquirer, registrations with
// their OTP SMS) runs for opts.Load; then the primary site is cut off:
// the link to the DR site is cut, the primary PostgreSQL stopped
// (immediate), the topology's processes killed and the primary NATS
// server shut down. The replica is promoted, the mirrors turned into
// streams, the topology started on the DR side, and a payment is made
// until one succeeds. RPO is counted against what the load saw
// committed; RTO is from the cut to that payment.
func RunDrill(ctx context.Context, opts DrillOptions) (_ *DrillReport, err error) {
	if opts.RepoRoot == "" {
		return nil, errors.New("distributed: DrillOptions.RepoRoot is required")
	}
	if opts.Load <= 0 {
		opts.Load = 10 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	switch opts.Replication {
	case "":
		opts.Replication = ReplicationSync
	case ReplicationSync, ReplicationArchive:
	default:
		return nil, fmt.Errorf("distributed: drill replication %q: want %s or %s", opts.Replication, ReplicationSync, ReplicationArchive)
	}
	if opts.ArchiveTimeout == "" {
		opts.ArchiveTimeout = "5min"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.PostgresBin == "" {
		if opts.PostgresBin, err = FindPostgresBin(); err != nil {
			return nil, err
		}
	} else if !hasPostgresTools(opts.PostgresBin) {
		return nil, fmt.Errorf("%w in %s", ErrNoPostgres, opts.PostgresBin)
	}
	cred, err := pgRunAs()
	if err != nil {
		return nil, err
	}

	d := &drill{opts: opts, log: log}
	root, err := os.MkdirTemp("", "tamkeen-dr-drill-")
	if err != nil {
		return nil, err
	}
	d.root = root
	defer d.cleanup()
	if cred != nil {
		// The postgres user must reach its clusters' directories.
		if err := os.Chmod(root, 0o711); err != nil {
			return nil, err
		}
	}
	rep, err := d.run(ctx, cred)
	if err != nil && d.topo != nil {
		// The logs go with the drill's directory: show their ends first.
		for _, name := range d.topo.Processes() {
			log.Warn("process log (last lines)", slog.String("process", name), slog.String("log", d.topo.Tail(name, 10)))
		}
	}
	return rep, err
}

// drill is one run's state, for the clean-up.
type drill struct {
	opts             DrillOptions
	log              *slog.Logger
	root             string
	primary, standby *pgCluster
	pnats, dnats     *drillNATS
	link             *wanLink
	topo             *Topology
}

// cleanup stops whatever runs and removes the drill's directory.
func (d *drill) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if d.topo != nil {
		d.topo.Stop()
	}
	if d.link != nil {
		d.link.Cut()
	}
	d.pnats.kill()
	d.dnats.kill()
	d.primary.destroy(ctx)
	d.standby.destroy(ctx)
	if err := os.RemoveAll(d.root); err != nil {
		d.log.Warn("remove drill directory", slog.Any("error", err))
	}
}

func (d *drill) step(msg string, args ...any) { d.log.Info(msg, args...) }

func (d *drill) run(ctx context.Context, cred *syscall.Credential) (*DrillReport, error) {
	var err error
	password := randomHex(16)
	if d.primary, err = newPGCluster(d.root, "primary", d.opts.PostgresBin, password, cred); err != nil {
		return nil, err
	}
	archive := ""
	if d.opts.Replication == ReplicationArchive {
		if archive, err = newArchiveDir(d.root, cred); err != nil {
			return nil, err
		}
	}
	if err := d.primary.initPrimary(ctx, archive, d.opts.ArchiveTimeout); err != nil {
		return nil, err
	}
	if err := d.primary.start(ctx); err != nil {
		return nil, err
	}
	if d.standby, err = newPGCluster(d.root, "dr", d.opts.PostgresBin, password, cred); err != nil {
		return nil, err
	}
	if err := d.standby.initStandby(ctx, d.primary, archive); err != nil {
		return nil, err
	}
	if err := d.standby.start(ctx); err != nil {
		return nil, err
	}
	if archive == "" {
		if err := d.primary.makeSynchronous(ctx, d.standby.name); err != nil {
			return nil, err
		}
	}
	d.step("postgresql: primary and replica", slog.String("replication", d.opts.Replication), slog.Int("primary_port", d.primary.port), slog.Int("dr_port", d.standby.port))

	if d.pnats, err = startDrillNATS(d.root, "primary", primaryDomain, ""); err != nil {
		return nil, err
	}
	if d.link, err = newWANLink(d.pnats.leafAddr()); err != nil {
		return nil, err
	}
	if d.dnats, err = startDrillNATS(d.root, "dr", drDomain, d.link.URL()); err != nil {
		return nil, err
	}
	d.step("nats: primary and DR (leaf node)", slog.String("primary", d.pnats.ns.ClientURL()), slog.String("dr", d.dnats.ns.ClientURL()))

	bin := d.opts.BinDir
	if bin == "" {
		bin = filepath.Join(d.root, "bin")
		if err := Build(ctx, d.opts.RepoRoot, bin, BuildOptions{}); err != nil {
			return nil, err
		}
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	topoOpts := Options{
		RepoRoot: d.opts.RepoRoot, WorkDir: filepath.Join(d.root, "work"), BinDir: bin,
		PostgresURL: d.primary.URL("postgres"), NATSURL: d.pnats.ns.ClientURL(), DBPrefix: drillDBPrefix,
		// The same address on both sides: the issuer's name survives the
		// fail-over (DNS moves, the name stays).
		HTTPAddr: httpAddr, Output: d.opts.Output, Logger: d.log,
		Env: map[string]map[string]string{
			// The load is several clients from one address.
			Gateway: {"TAMKEEN_RATE_LIMITS": "read=1000/2000,write=1000/2000,public=1000/2000"},
		},
	}
	if d.topo, err = Start(ctx, topoOpts); err != nil {
		return nil, err
	}
	if err := d.dnats.mirrorStreams(ctx); err != nil {
		return nil, err
	}
	if archive != "" {
		// The databases, the CA and the demo client reach the archive (a
		// scheduled backup would have them); the load's WAL goes there
		// only as segments fill or archive_timeout passes.
		if err := d.primary.archiveNow(ctx); err != nil {
			return nil, err
		}
	}
	d.step("topology ready on the primary; DR mirrors the five streams", slog.String("url", d.topo.URL()))

	// Load on the primary, then the cut while it still runs.
	loadCtx, stopLoad := context.WithCancel(ctx)
	ld := startLoad(loadCtx, d.topo.URL(), d.topo.ClientSecret(), d.opts.Workers)
	select {
	case <-ctx.Done():
		stopLoad()
		return nil, ctx.Err()
	case <-time.After(d.opts.Load):
	}
	rep := &DrillReport{Replication: "synchronous streaming"}
	if archive != "" {
		rep.Replication = "WAL archive, archive_timeout " + d.opts.ArchiveTimeout
	}
	cut := time.Now()
	d.step("cut-off: the primary site is lost")
	d.link.Cut()
	if err := d.primary.stopImmediate(ctx); err != nil {
		stopLoad()
		return nil, err
	}
	for _, name := range d.topo.Processes() {
		if err := d.topo.Kill(name); err != nil {
			d.log.Warn("kill", slog.String("process", name), slog.Any("error", err))
		}
	}
	stopLoad()
	st := ld.wait()
	sentPrimary := map[string]bool{}
	for _, phone := range st.phones {
		sentPrimary[phone] = len(d.topo.SMS().Messages(phone)) > 0
	}
	d.topo.Stop()
	d.topo = nil
	rep.Payments, rep.Paid, rep.Registrations = len(st.payments), len(st.paid), len(st.citizens)

	// What the primary's streams hold now is final; what the DR mirrors
	// hold is what the link carried before the cut.
	primaryStreams, err := d.pnats.streamStates(ctx)
	if err != nil {
		return nil, err
	}
	primaryIDs := map[string]map[string]int{}
	subjects := map[string][]string{}
	for _, s := range Services() {
		rep.EventsPrimary += primaryStreams[s].Msgs
		subjects[s] = primaryStreams[s].Subjects
		if primaryIDs[s], err = d.pnats.msgIDs(ctx, s); err != nil {
			return nil, err
		}
	}
	d.pnats.kill()
	mirrored, err := d.dnats.streamStates(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range Services() {
		rep.EventsMirrored += mirrored[s].Msgs
	}

	// Fail over: promote PostgreSQL and the streams, start the topology on
	// the DR side.
	if err := d.standby.promote(ctx); err != nil {
		return nil, err
	}
	if rep.OutboxPending, err = d.standby.outboxPending(ctx); err != nil {
		return nil, err
	}
	if err := d.dnats.promoteMirrors(ctx, subjects); err != nil {
		return nil, err
	}
	topoOpts.PostgresURL, topoOpts.NATSURL = d.standby.URL("postgres"), d.dnats.ns.ClientURL()
	restart := time.Now()
	if d.topo, err = Start(ctx, topoOpts); err != nil {
		return nil, err
	}
	rep.DRStart = time.Since(restart)
	d.step("topology ready on the DR side", slog.Duration("after_cut", time.Since(cut)))
	if err := firstPayment(ctx, d.topo.URL(), d.topo.ClientSecret()); err != nil {
		return nil, fmt.Errorf("no payment succeeded on the DR side: %w", err)
	}
	rep.RTO = time.Since(cut)
	d.step("first payment succeeded on the DR side", slog.Duration("rto", rep.RTO))

	// RPO: what the load saw committed, looked up on the DR side.
	if err := d.countMissing(ctx, rep, st); err != nil {
		return nil, err
	}
	if err := d.countEvents(ctx, rep, primaryIDs); err != nil {
		return nil, err
	}
	d.countOTPs(ctx, rep, st.phones, sentPrimary)
	if rep.LedgerCheck, err = d.topo.Tool(ctx, "payment", "ledger", "check"); err != nil {
		return rep, fmt.Errorf("ledger check on the DR side: %w", err)
	}
	return rep, nil
}

// countMissing looks the committed payments and registrations up in the
// DR databases.
func (d *drill) countMissing(ctx context.Context, rep *DrillReport, st *loadResult) error {
	conn, err := pgx.Connect(ctx, d.standby.URL(drillDBPrefix+"payment"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	states := map[string]string{}
	rows, err := conn.Query(ctx, "SELECT id, state FROM payments WHERE id = ANY($1)", st.payments)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return err
		}
		states[id] = state
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range st.payments {
		if _, ok := states[id]; !ok {
			rep.PaymentsMissing++
		}
	}
	for _, id := range st.paid {
		if states[id] != "succeeded" {
			rep.PaidLost++
		}
	}

	auth, err := pgx.Connect(ctx, d.standby.URL(drillDBPrefix+"auth"))
	if err != nil {
		return err
	}
	defer auth.Close(ctx)
	var found int
	if err := auth.QueryRow(ctx, "SELECT count(*) FROM citizens WHERE id = ANY($1)", st.citizens).Scan(&found); err != nil {
		return err
	}
	rep.RegistrationsMissing = len(st.citizens) - found
	return nil
}

// countEvents waits until the DR side's relays have published every
// outbox row the cut left, then compares the primary's streams with DR's.
func (d *drill) countEvents(ctx context.Context, rep *DrillReport, primaryIDs map[string]map[string]int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := d.standby.outboxPending(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d outbox rows still unpublished on the DR side after 30 s", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, s := range Services() {
		ids, err := d.dnats.msgIDs(ctx, s)
		if err != nil {
			return err
		}
		for _, n := range ids {
			rep.EventsDuplicated += n - 1
		}
		for id := range primaryIDs[s] {
			if ids[id] == 0 {
				rep.EventsLost++
			}
		}
	}
	return nil
}

// countOTPs compares which registrations' phones got their OTP from
// which side. The DR side's SMS come from outbox rows the cut left; the
// outbox is drained (countEvents), and notification sends within
// seconds: it waits up to 5 s for the phones still without one.
func (d *drill) countOTPs(ctx context.Context, rep *DrillReport, phones []string, sentPrimary map[string]bool) {
	onDR := func(phone string) bool { return len(d.topo.SMS().Messages(phone)) > 0 }
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; sleepCtx(ctx, 200*time.Millisecond) {
		waiting := 0
		for _, p := range phones {
			if !sentPrimary[p] && !onDR(p) {
				waiting++
			}
		}
		if waiting == 0 {
			break
		}
	}
	for _, p := range phones {
		switch a, b := sentPrimary[p], onDR(p); {
		case a && b:
			rep.OTPsTwice++
			rep.OTPs++
			rep.OTPsOnDR++
		case a:
			rep.OTPs++
		case b:
			rep.OTPsOnDR++
		default:
			rep.OTPsNever++
		}
	}
}

// outboxPending counts unpublished outbox rows in every service database.
func (c *pgCluster) outboxPending(ctx context.Context) (int, error) {
	total := 0
	for _, s := range Services() {
		conn, err := pgx.Connect(ctx, c.URL(drillDBPrefix+s))
		if err != nil {
			return 0, err
		}
		var n int
		err = conn.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&n)
		conn.Close(ctx)
		if err != nil {
			return 0, fmt.Errorf("outbox of %s: %w", s, err)
		}
		total += n
	}
	return total, nil
}
