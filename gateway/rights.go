package gateway

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tamkeen/tamkeen/libs/store"
)

// Component names the gateway's migration set and database.
const Component = "gateway"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the gateway's schema (rights, audit log, usage), to
// apply to Deps.DB before New.
func Migrations() (store.MigrationSet, error) {
	return store.LoadMigrations(Component, migrationFiles, "migrations")
}

// OpenDB opens the gateway's database (access rights, the audit log,
// usage) and brings its schema up to date: what cmd/gateway and tamkeen
// dev both do before New.
func OpenDB(ctx context.Context, opts store.Options) (*store.DB, error) {
	db, err := store.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	set, err := Migrations()
	if err == nil {
		err = db.Migrate(ctx, set)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("gateway database: %w", err)
	}
	return db, nil
}

// DefaultRightsRefresh is how often a gateway reloads the rights table, so
// that a grant or a revocation reaches every replica within seconds.
const DefaultRightsRefresh = 2 * time.Second

// Wildcard in a right's service or operation matches every one.
const Wildcard = "*"

// ErrBadRight is wrapped by errors about a malformed right name or a right
// naming no service or operation the gateway exposes.
var ErrBadRight = errors.New("gateway: invalid right")

// Right lets one client call one operation of one enabler (or all of them,
// with Wildcard), optionally only for the template ids, payment
// departments or content ministries listed: a request that names one of
// those (template_id, splits[].account "dept:<id>", ministry) must name a
// listed one. A request that names none is not narrowed.
type Right struct {
	// ClientID is the OAuth client the right belongs to.
	ClientID string
	// Service is an enabler's short name ("payment") or Wildcard.
	Service string
	// Operation is a gRPC method name ("CreatePayment") or Wildcard.
	Operation string
	// Templates narrows notification calls to these template ids.
	Templates []string
	// Departments narrows payment calls to these departments.
	Departments []string
	// Ministries narrows content calls to these ministries.
	Ministries []string
	// GrantedAt is when the right was last granted.
	GrantedAt time.Time
}

// Name is the right as operators write it: "payment/CreatePayment",
// "payment/*" or "*".
func (r Right) Name() string {
	if r.Service == Wildcard {
		return Wildcard
	}
	return r.Service + "/" + r.Operation
}

// String is the name with its narrowing, e.g.
// "notification/SendSms templates=tpl_a,tpl_b".
func (r Right) String() string {
	return strings.Join(append([]string{r.Name()}, r.Narrowing()...), " ")
}

// Narrowing lists the right's narrowing as kind=id,id words, e.g.
// ["templates=tpl_a,tpl_b"]; none for a right that is not narrowed.
func (r Right) Narrowing() []string {
	var out []string
	for _, n := range []struct {
		k string
		v []string
	}{{"templates", r.Templates}, {"departments", r.Departments}, {"ministries", r.Ministries}} {
		if len(n.v) > 0 {
			out = append(out, n.k+"="+strings.Join(n.v, ","))
		}
	}
	return out
}

// covers reports whether the right admits service/operation, ignoring
// the narrowing.
func (r Right) covers(service, operation string) bool {
	return (r.Service == Wildcard || r.Service == service) && (r.Operation == Wildcard || r.Operation == operation)
}

// narrowed reports whether the right lists ids.
func (r Right) narrowed() bool {
	return len(r.Templates) > 0 || len(r.Departments) > 0 || len(r.Ministries) > 0
}

// ParseRight splits a right name into service and operation, checking
// that they name something the gateway exposes.
func ParseRight(name string) (service, operation string, err error) {
	name = strings.TrimSpace(name)
	if name == Wildcard {
		return Wildcard, Wildcard, nil
	}
	service, operation, ok := strings.Cut(name, "/")
	if !ok || service == "" || operation == "" {
		return "", "", fmt.Errorf("%w: %q is not service/operation, service/* or *", ErrBadRight, name)
	}
	ops, known := exposedOperations()[service]
	if !known {
		return "", "", fmt.Errorf("%w: %q: unknown service %q (want one of %s)", ErrBadRight, name, service, strings.Join(Services(), ", "))
	}
	if operation != Wildcard && !slices.Contains(ops, operation) {
		return "", "", fmt.Errorf("%w: %q: the %s service has no operation %q", ErrBadRight, name, service, operation)
	}
	return service, operation, nil
}

// Services lists the enablers' short names, sorted.
func Services() []string {
	var out []string
	for s := range exposedOperations() {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// exposedOperations lists each enabler's methods, by short service name.
func exposedOperations() map[string][]string {
	out := map[string][]string{}
	for _, sd := range serviceDescs() {
		svc := serviceShortName(sd.ServiceName)
		for _, m := range sd.Methods {
			out[svc] = append(out[svc], m.MethodName)
		}
	}
	return out
}

// serviceShortName turns "tamkeen.payment.v1.PaymentService" into "payment".
func serviceShortName(full string) string {
	parts := strings.Split(full, ".")
	if len(parts) >= 2 {
		return parts[1]
	}
	return full
}

// splitMethod turns "/tamkeen.payment.v1.PaymentService/CreatePayment"
// into ("payment", "CreatePayment").
func splitMethod(full string) (service, operation string) {
	svc, op, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return serviceShortName(svc), op
}

// Rights administers the rights table; `tamkeen clients grant|revoke|show`
// uses it, and every gateway replica reloads the table every
// Config.RightsRefresh.
type Rights struct {
	db  *store.DB
	now func() time.Time
}

// NewRights works on db (migrated with Migrations); now nil means
// time.Now.
func NewRights(db *store.DB, now func() time.Time) *Rights {
	if now == nil {
		now = time.Now
	}
	return &Rights{db: db, now: now}
}

// Grant adds r, or replaces the right of the same client and name (its
// narrowing included).
func (s *Rights) Grant(ctx context.Context, r Right) error {
	if strings.TrimSpace(r.ClientID) == "" {
		return fmt.Errorf("%w: no client id", ErrBadRight)
	}
	if r.Service == Wildcard {
		r.Operation = Wildcard
	}
	if _, _, err := ParseRight(r.Name()); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO gateway_rights (client_id, service, operation, templates, departments, ministries, granted_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (client_id, service, operation) DO UPDATE SET templates = excluded.templates,
  departments = excluded.departments, ministries = excluded.ministries, granted_at = excluded.granted_at`,
		r.ClientID, r.Service, r.Operation, joinIDs(r.Templates), joinIDs(r.Departments), joinIDs(r.Ministries),
		store.Stamp(s.now()))
	if err != nil {
		return fmt.Errorf("grant %s to %s: %w", r.Name(), r.ClientID, err)
	}
	return nil
}

// Revoke removes the client's right called name and reports whether there
// was one.
func (s *Rights) Revoke(ctx context.Context, clientID, name string) (bool, error) {
	svc, op, err := ParseRight(name)
	if err != nil {
		return false, err
	}
	changed, err := store.ChangedAny(s.db.ExecContext(ctx, `DELETE FROM gateway_rights WHERE client_id = $1 AND service = $2 AND operation = $3`, clientID, svc, op))
	if err != nil {
		return false, fmt.Errorf("revoke %s from %s: %w", name, clientID, err)
	}
	return changed, nil
}

// List returns the rights of clientID, or of every client when it is "",
// ordered by client and name.
func (s *Rights) List(ctx context.Context, clientID string) ([]Right, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT client_id, service, operation, templates, departments, ministries, granted_at
FROM gateway_rights WHERE $1 = '' OR client_id = $1 ORDER BY client_id, service, operation`, clientID)
	if err != nil {
		return nil, fmt.Errorf("list rights: %w", err)
	}
	return store.CollectRows(rows, func(row store.Row) (Right, error) {
		var r Right
		var tpl, dep, min string
		if err := row.Scan(&r.ClientID, &r.Service, &r.Operation, &tpl, &dep, &min, &r.GrantedAt); err != nil {
			return r, fmt.Errorf("list rights: %w", err)
		}
		r.Templates, r.Departments, r.Ministries = splitIDs(tpl), splitIDs(dep), splitIDs(min)
		return r, nil
	})
}

// joinIDs stores a list as one comma-separated column, trimmed and sorted.
func joinIDs(ids []string) string {
	var out []string
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// splitIDs reads a column written by joinIDs.
func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// rightsCache is a replica's copy of the rights table, reloaded in the
// background once it is older than the refresh interval; requests never
// wait for a reload except the very first.
type rightsCache struct {
	store   *Rights
	refresh time.Duration
	now     func() time.Time
	logger  *slog.Logger

	mu         sync.Mutex
	byClient   map[string][]Right
	loadedAt   time.Time
	loaded     bool
	refreshing bool
}

// load replaces the snapshot with the table's contents.
func (c *rightsCache) load(ctx context.Context) error {
	all, err := c.store.List(ctx, "")
	if err != nil {
		return err
	}
	by := map[string][]Right{}
	for _, r := range all {
		by[r.ClientID] = append(by[r.ClientID], r)
	}
	c.mu.Lock()
	c.byClient, c.loadedAt, c.loaded = by, c.now(), true
	c.mu.Unlock()
	return nil
}

// rightsOf returns the client's rights from a snapshot at most about one
// refresh interval old.
func (c *rightsCache) rightsOf(ctx context.Context, clientID string) ([]Right, error) {
	c.mu.Lock()
	if !c.loaded {
		c.mu.Unlock()
		if err := c.load(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
	} else if !c.refreshing && c.now().Sub(c.loadedAt) >= c.refresh {
		c.refreshing = true
		go func() {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := c.load(lctx); err != nil {
				c.logger.WarnContext(lctx, "reload access rights failed; using the previous copy", slog.String("error", err.Error()))
			}
			c.mu.Lock()
			c.refreshing = false
			c.mu.Unlock()
		}()
	}
	defer c.mu.Unlock()
	return c.byClient[clientID], nil
}

// checkRight finds the client's right for method: nil and the matching
// rights when it has one, or the refusal naming the missing right.
func (g *Gateway) checkRight(ctx context.Context, clientID, method string) ([]Right, *authFailure) {
	rights, err := g.rights.rightsOf(ctx, clientID)
	if err != nil {
		g.logger.ErrorContext(ctx, "access rights unavailable", slog.String("error", err.Error()), slog.String("request_id", RequestID(ctx)))
		return nil, &authFailure{reason: "rights_unavailable", status: http.StatusServiceUnavailable, kind: "rights-unavailable",
			detail: "access rights cannot be checked now; retry later", retryAfter: "1"}
	}
	svc, op := splitMethod(method)
	var match []Right
	for _, r := range rights {
		if r.covers(svc, op) {
			match = append(match, r)
		}
	}
	if len(match) == 0 {
		name := svc + "/" + op
		return nil, &authFailure{reason: "missing_right", status: http.StatusForbidden, kind: "missing-right",
			detail: "client " + clientID + " has no right " + name + "; an operator grants it with `tamkeen rights grant --id " + clientID + " --right " + name + "`",
			right:  name}
	}
	return match, nil
}

// requestIDs are the ids a request message names that rights can narrow.
type requestIDs struct {
	templates, departments, ministries []string
}

// namedIDs reads template_id, ministry and splits[].account ("dept:<id>")
// from a request message.
func namedIDs(m proto.Message) requestIDs {
	var ids requestIDs
	if m == nil {
		return ids
	}
	msg := m.ProtoReflect()
	fields := msg.Descriptor().Fields()
	str := func(name protoreflect.Name) string {
		if fd := fields.ByName(name); fd != nil && fd.Kind() == protoreflect.StringKind && fd.Cardinality() != protoreflect.Repeated {
			return msg.Get(fd).String()
		}
		return ""
	}
	if v := str("template_id"); v != "" {
		ids.templates = append(ids.templates, v)
	}
	if v := str("ministry"); v != "" {
		ids.ministries = append(ids.ministries, v)
	}
	if fd := fields.ByName("splits"); fd != nil && fd.IsList() && fd.Kind() == protoreflect.MessageKind {
		list := msg.Get(fd).List()
		for i := 0; i < list.Len(); i++ {
			split := list.Get(i).Message()
			if afd := split.Descriptor().Fields().ByName("account"); afd != nil && afd.Kind() == protoreflect.StringKind {
				if acc := split.Get(afd).String(); acc != "" {
					ids.departments = append(ids.departments, strings.TrimPrefix(acc, "dept:"))
				}
			}
		}
	}
	return ids
}

// allowsIDs reports whether one of rights admits every id the request
// names, or the refusal naming what is not covered.
func allowsIDs(rights []Right, clientID, method string, ids requestIDs) *authFailure {
	var why string
	for _, r := range rights {
		if !r.narrowed() {
			return nil
		}
		why = ""
		for _, c := range []struct {
			kind    string
			allowed []string
			named   []string
		}{{"template", r.Templates, ids.templates}, {"department", r.Departments, ids.departments}, {"ministry", r.Ministries, ids.ministries}} {
			if len(c.allowed) == 0 {
				continue
			}
			for _, id := range c.named {
				if !slices.Contains(c.allowed, id) {
					why = c.kind + " " + id
					break
				}
			}
			if why != "" {
				break
			}
		}
		if why == "" {
			return nil
		}
	}
	svc, op := splitMethod(method)
	name := svc + "/" + op
	return &authFailure{reason: "missing_right", status: http.StatusForbidden, kind: "missing-right",
		detail: "client " + clientID + "'s right " + name + " does not cover " + why,
		right:  name + " " + why}
}

// rightError carries a narrowing refusal from the backend call (where the
// decoded request is known) to the error handler.
type rightError struct{ f *authFailure }

// Error is the refusal's detail.
func (e *rightError) Error() string { return e.f.detail }
