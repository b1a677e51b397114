package content

import (
	"context"
	"database/sql"
	"embed"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the schema versions the service's database needs, applied
// at start-up and by `tamkeen migrate`.
var Migrations = host.Migrations(Name, migrationFiles, "migrations")

// The SQL of the service. One text serves both engines except for search
// (FTS5 on SQLite, tsvector on PostgreSQL), which differs in searchSQL only.

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ItemIDPrefix starts every item id.
const ItemIDPrefix = "cnt_"

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

const itemColumns = `i.id, i.type, i.ministry, i.state, i.version, i.published_version, i.publish_at, i.expire_at,
	i.created_at, i.updated_at, i.updated_by, v.content`

// loadItem reads an item at its latest version; version > 0 reads that
// version's content instead (the rest stays the item's current row).
func loadItem(ctx context.Context, q store.Querier, id string, version int) (Item, error) {
	var (
		it       Item
		pub, exp sql.NullTime
		raw      string
	)
	query := `SELECT ` + itemColumns + ` FROM content_items i JOIN content_versions v
		ON v.item_id = i.id AND v.version = (CASE WHEN $2 > 0 THEN $2 ELSE i.version END) WHERE i.id = $1`
	err := q.QueryRowContext(ctx, query, id, version).Scan(&it.ID, &it.Type, &it.Ministry, &it.State, &it.Version,
		&it.PublishedVersion, &pub, &exp, &it.CreateTime, &it.UpdateTime, &it.UpdatedBy, &raw)
	if store.IsNoRows(err) {
		if version > 0 {
			if _, err := loadItem(ctx, q, id, 0); err == nil {
				return Item{}, fmt.Errorf("%w: item %s has no version %d", rpcerr.ErrNotFound, id, version)
			}
		}
		return Item{}, fmt.Errorf("%w: item %s", rpcerr.ErrNotFound, id)
	}
	if err != nil {
		return Item{}, fmt.Errorf("load item %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(raw), &it.Content); err != nil {
		return Item{}, fmt.Errorf("load item %s: content: %w", id, err)
	}
	if version > 0 {
		it.Version = version
	}
	it.PublishAt, it.ExpireAt = pub.Time.UTC(), exp.Time.UTC()
	if !pub.Valid {
		it.PublishAt = time.Time{}
	}
	if !exp.Valid {
		it.ExpireAt = time.Time{}
	}
	it.CreateTime, it.UpdateTime = it.CreateTime.UTC(), it.UpdateTime.UTC()
	return it, nil
}

// rolesOf returns the roles subject holds in ministry.
func rolesOf(ctx context.Context, q store.Querier, ministry, subject string) ([]Role, error) {
	rows, err := q.QueryContext(ctx, `SELECT role FROM content_roles WHERE ministry = $1 AND subject = $2 ORDER BY role`, ministry, subject)
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	out, err := store.CollectColumn[Role](rows)
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	return out, nil
}

// ministriesOf returns the ministries in which subject holds any role.
func ministriesOf(ctx context.Context, q store.Querier, subject string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT ministry FROM content_roles WHERE subject = $1 ORDER BY ministry`, subject)
	if err != nil {
		return nil, fmt.Errorf("ministries: %w", err)
	}
	return store.CollectColumn[string](rows)
}

// insertVersion stores an immutable version.
func insertVersion(ctx context.Context, tx *sql.Tx, id string, version int, c Content, by string, at time.Time) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("version %s/%d: %w", id, version, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO content_versions (item_id, version, content, saved_by, saved_at)
		VALUES ($1, $2, $3, $4, $5)`, id, version, string(raw), by, at); err != nil {
		if store.IsUniqueViolation(err) {
			return fmt.Errorf("%w: item %s already has version %d", rpcerr.ErrConflict, id, version)
		}
		return fmt.Errorf("version %s/%d: %w", id, version, err)
	}
	return nil
}

// reserveSlugs claims c's slugs for item id; a slug another item holds is
// a field error naming the translation.
func reserveSlugs(ctx context.Context, tx *sql.Tx, id string, c Content) error {
	var fe fieldErrs
	for _, lang := range Languages {
		tr, ok := c.Translations[lang]
		if !ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO content_slugs (slug, item_id) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING`, tr.Slug, id); err != nil {
			return fmt.Errorf("reserve slug: %w", err)
		}
		var owner string
		if err := tx.QueryRowContext(ctx, `SELECT item_id FROM content_slugs WHERE slug = $1`, tr.Slug).Scan(&owner); err != nil {
			return fmt.Errorf("reserve slug: %w", err)
		}
		if owner != id {
			fe.add("translations."+lang+".slug", "%q is already used by another item", tr.Slug)
		}
	}
	return fe.err()
}

// recordTransition appends a workflow step to the item's history.
func recordTransition(ctx context.Context, tx *sql.Tx, id string, a Action, from, to State, actor, comment string, version int, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO content_transitions (item_id, seq, action, from_state, to_state, actor, comment, version, at)
		SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8 FROM content_transitions WHERE item_id = $1`,
		id, string(a), string(from), string(to), actor, comment, version, at)
	if err != nil {
		return fmt.Errorf("record %s of %s: %w", a, id, err)
	}
	return nil
}

// pageToken encodes an offset; tokens are opaque to callers.
func pageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset)))
}

// parsePage checks page_size (default def, at most max) and page_token.
func parsePage(size int32, token string, def, max int) (limit, offset int, err error) {
	limit = int(size)
	switch {
	case size < 0:
		return 0, 0, &rpcerr.FieldError{Field: "page_size", Reason: "must not be negative", Code: "page_size.negative"}
	case size == 0:
		limit = def
	case limit > max:
		limit = max
	}
	if token == "" {
		return limit, 0, nil
	}
	raw, derr := base64.RawURLEncoding.DecodeString(token)
	if derr == nil && len(raw) > 1 && raw[0] == 'o' {
		if n, perr := strconv.Atoi(string(raw[1:])); perr == nil && n >= 0 && n <= 1_000_000 {
			return limit, n, nil
		}
	}
	return 0, 0, &rpcerr.FieldError{Field: "page_token", Reason: "is not a token from a previous page", Code: "page_token.unknown"}
}

// errLeaseHeld is returned when another replica holds a lease.
var errLeaseHeld = errors.New("lease held by another replica")

// acquireLease takes or renews the named lease for holder until until;
// it fails with errLeaseHeld while another holder's lease runs.
func acquireLease(ctx context.Context, db *store.DB, name, holder string, now, until time.Time) error {
	var got string
	err := db.QueryRowContext(ctx, `INSERT INTO content_leases (name, holder, until_ms) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
		WHERE content_leases.holder = excluded.holder OR content_leases.until_ms < $4
		RETURNING holder`, name, holder, until.UnixMilli(), now.UnixMilli()).Scan(&got)
	if store.IsNoRows(err) {
		return errLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("lease %s: %w", name, err)
	}
	return nil
}
