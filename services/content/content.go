package content

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// Principal is the verified caller of an editorial operation: the token's
// subject (a staff member's citizen id, or a ministry app's client id).
// What it may do is decided by the roles granted to Subject per ministry.
type Principal struct {
	Subject string
	// Client is true for a ministry app's client-credentials token.
	Client bool
	// Ministry is a client's registered ministry (the token's "ministry"
	// claim): a client acts in that ministry only, whatever roles it holds
	// elsewhere. Staff members (citizen tokens) have none; their roles,
	// granted per ministry, say where they act.
	Ministry string
	// Platform is true for the platform operator's client (content:admin),
	// which may act in any ministry where it holds a role.
	Platform bool
}

// inTenant checks that p may act in ministry at all (its roles there are
// checked next): a client only in its own ministry (403 otherwise, and
// a client token without a ministry claim acts nowhere) unless it is the
// platform's; a staff member anywhere, as far as its roles go.
func (p Principal) inTenant(ministry string) error {
	if !p.Client || p.Platform {
		return nil
	}
	if p.Ministry == "" {
		return fmt.Errorf("%w: client %s is registered with no ministry, so it manages none", rpcerr.ErrPermissionDenied, p.Subject)
	}
	if p.Ministry != ministry {
		return fmt.Errorf("%w: a client of ministry %s cannot act in ministry %s", rpcerr.ErrPermissionDenied, p.Ministry, ministry)
	}
	return nil
}

// heldRoles returns the roles p holds in ministry, after checking that p
// may act there at all.
func heldRoles(ctx context.Context, q store.Querier, p Principal, ministry string) ([]Role, error) {
	if err := p.inTenant(ministry); err != nil {
		return nil, err
	}
	return rolesOf(ctx, q, ministry, p.Subject)
}

// loadHeld reads item id at its latest version and the roles p holds in
// its ministry: what every workflow step checks before it acts.
func loadHeld(ctx context.Context, q store.Querier, p Principal, id string) (Item, []Role, error) {
	it, err := loadItem(ctx, q, id, 0)
	if err != nil {
		return Item{}, nil, err
	}
	held, err := heldRoles(ctx, q, p, it.Ministry)
	return it, held, err
}

// VersionConflictError is the 409 of a save based on an old version; it
// names the current version so the editor can reload and merge (toStatus
// makes it Aborted with the versions in its ErrorInfo metadata).
type VersionConflictError struct {
	ItemID  string
	Base    int
	Current int
}

// Error says which version is current.
func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("item %s is at version %d; your edit was based on version %d: reload version %d, merge, and save again",
		e.ItemID, e.Current, e.Base, e.Current)
}

// CreateInput is a new item.
type CreateInput struct {
	Type     string
	Ministry string
	Content  Content
}

// CreateItem creates an item with its first draft version (author).
func (s *Service) CreateItem(ctx context.Context, p Principal, in CreateInput) (Item, error) {
	var fe fieldErrs
	t, err := ParseType("type", in.Type)
	if err != nil {
		fe = append(fe, err)
	}
	if err := ValidateMinistry("ministry", in.Ministry); err != nil {
		fe = append(fe, err)
	}
	if t != "" {
		if err := in.Content.Validate(t); err != nil {
			fe = append(fe, err)
		}
	}
	if err := fe.err(); err != nil {
		return Item{}, err
	}
	id, err := store.NewIDFrom(s.Rand, ItemIDPrefix)
	if err != nil {
		return Item{}, err
	}
	now := s.Now()
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		held, err := heldRoles(ctx, tx, p, in.Ministry)
		if err != nil {
			return err
		}
		if err := authorize(ActionCreate, in.Ministry, held, ""); err != nil {
			return err
		}
		if err := insertItem(ctx, tx, id, t, in.Ministry, p.Subject, now); err != nil {
			return fmt.Errorf("create item: %w", err)
		}
		if err := insertVersion(ctx, tx, id, 1, in.Content, p.Subject, now); err != nil {
			return err
		}
		if err := reserveSlugs(ctx, tx, id, in.Content); err != nil {
			return err
		}
		return recordTransition(ctx, tx, id, ActionCreate, "", StateDraft, p.Subject, "", 1, now)
	})
	if err != nil {
		return Item{}, err
	}
	return s.GetItem(ctx, p, id)
}

// GetItem returns an item at its latest version to anyone with a role in
// its ministry.
func (s *Service) GetItem(ctx context.Context, p Principal, id string) (Item, error) {
	it, err := loadItem(ctx, s.DB, id, 0)
	if err != nil {
		return Item{}, err
	}
	return it, s.canRead(ctx, p, it.Ministry)
}

// canRead checks that p holds some role in ministry.
func (s *Service) canRead(ctx context.Context, p Principal, ministry string) error {
	held, err := heldRoles(ctx, s.DB, p, ministry)
	if err != nil {
		return err
	}
	if len(held) == 0 {
		return fmt.Errorf("%w: you have no role in ministry %s", rpcerr.ErrPermissionDenied, ministry)
	}
	return nil
}

// ListFilter selects items for editors.
type ListFilter struct {
	Ministry, Type, State string
	PageSize              int32
	PageToken             string
}

// ListItems lists the items of the ministries where p holds a role (or of
// the one ministry asked for), newest first.
func (s *Service) ListItems(ctx context.Context, p Principal, f ListFilter) ([]Item, string, error) {
	limit, offset, err := parseListPage(f.PageSize, f.PageToken, f.Type)
	if err != nil {
		return nil, "", err
	}
	if f.State != "" && !validState(f.State) {
		return nil, "", &rpcerr.FieldError{Field: "state", Reason: "is not a workflow state", Code: "state.unsupported"}
	}
	ministries, err := ministriesOf(ctx, s.DB, p.Subject)
	if err != nil {
		return nil, "", err
	}
	// A client lists only its own ministry's items, whatever roles it
	// holds elsewhere.
	ministries = slices.DeleteFunc(ministries, func(m string) bool { return p.inTenant(m) != nil })
	if f.Ministry != "" {
		if err := s.canRead(ctx, p, f.Ministry); err != nil {
			return nil, "", err
		}
		ministries = []string{f.Ministry}
	}
	var out []Item
	// Few ministries per subject: one query each keeps the SQL portable.
	var ids []string
	for _, m := range ministries {
		more, err := itemIDs(ctx, s.DB, m, f.Type, f.State)
		if err != nil {
			return nil, "", err
		}
		ids = append(ids, more...)
	}
	if offset >= len(ids) {
		return nil, "", nil
	}
	end := min(offset+limit, len(ids))
	for _, id := range ids[offset:end] {
		it, err := loadItem(ctx, s.DB, id, 0)
		if err != nil {
			return nil, "", err
		}
		out = append(out, it)
	}
	next := ""
	if end < len(ids) {
		next = pageToken(end)
	}
	return out, next, nil
}

// parseListPage checks the paging and the optional type filter that both
// item lists (editors' and the public one) take.
func parseListPage(size int32, token, typ string) (limit, offset int, err error) {
	limit, offset, err = parsePage(size, token, 20, 100)
	if err != nil {
		return 0, 0, err
	}
	if typ != "" {
		if _, err := ParseType("type", typ); err != nil {
			return 0, 0, err
		}
	}
	return limit, offset, nil
}

func validState(s string) bool {
	for _, st := range States {
		if string(st) == s {
			return true
		}
	}
	return false
}

// SaveDraft saves c as a new immutable version over base, the version the
// editor read. A newer current version is a *VersionConflictError (409).
func (s *Service) SaveDraft(ctx context.Context, p Principal, id string, base int, c Content) (Item, error) {
	if base < 1 {
		return Item{}, &rpcerr.FieldError{Field: "base_version", Reason: "is required: the version you read", Code: "base_version.required"}
	}
	err := s.newVersion(ctx, p, id, ActionSave, base, "", func(it Item) (Content, error) {
		return c, c.Validate(it.Type)
	})
	if err != nil {
		return Item{}, err
	}
	return s.GetItem(ctx, p, id)
}

// RollbackItem saves an old version's content as a new draft version.
func (s *Service) RollbackItem(ctx context.Context, p Principal, id string, version int, comment string) (Item, error) {
	if version < 1 {
		return Item{}, &rpcerr.FieldError{Field: "version", Reason: "must be a version number (1 or more)", Code: "version.range"}
	}
	if err := validateComment("comment", comment, false); err != nil {
		return Item{}, err
	}
	old, err := loadItem(ctx, s.DB, id, version)
	if err != nil {
		return Item{}, err
	}
	if comment == "" {
		comment = "rollback to version " + strconv.Itoa(version)
	}
	err = s.newVersion(ctx, p, id, ActionRollback, 0, comment, func(Item) (Content, error) { return old.Content, nil })
	if err != nil {
		return Item{}, err
	}
	return s.GetItem(ctx, p, id)
}

// newVersion appends a version made by next from the current item. base,
// when positive, must be the current version.
func (s *Service) newVersion(ctx context.Context, p Principal, id string, a Action, base int, comment string, next func(Item) (Content, error)) error {
	now := s.Now()
	return s.DB.InTx(ctx, func(tx *sql.Tx) error {
		it, held, err := loadHeld(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if err := authorize(a, it.Ministry, held, it.State); err != nil {
			return err
		}
		if base > 0 && base != it.Version {
			return &VersionConflictError{ItemID: id, Base: base, Current: it.Version}
		}
		c, err := next(it)
		if err != nil {
			return err
		}
		v := it.Version + 1
		// The conditional update is the optimistic lock: a concurrent save
		// that read the same version finds no row and gets the conflict.
		// A new version cancels a pending schedule: only an approved
		// version may be published.
		ok, err := bumpVersion(ctx, tx, id, it.Version, v, now, p.Subject)
		if err != nil {
			return fmt.Errorf("save %s: %w", id, err)
		}
		if !ok {
			cur, _ := loadItem(ctx, tx, id, 0)
			return &VersionConflictError{ItemID: id, Base: it.Version, Current: cur.Version}
		}
		if err := insertVersion(ctx, tx, id, v, c, p.Subject, now); err != nil {
			return err
		}
		if err := reserveSlugs(ctx, tx, id, c); err != nil {
			return err
		}
		return recordTransition(ctx, tx, id, a, it.State, StateDraft, p.Subject, comment, v, now)
	})
}

// Transition takes a workflow action that changes only the state: submit,
// approve, reject (comment required), unpublish or archive.
func (s *Service) Transition(ctx context.Context, p Principal, id string, a Action, comment string) (Item, error) {
	switch a {
	case ActionSubmit, ActionApprove, ActionReject, ActionUnpublish, ActionArchive:
	default:
		return Item{}, fmt.Errorf("%w: %s is not a state transition", rpcerr.ErrInvalid, a)
	}
	if err := validateComment("comment", comment, a == ActionReject); err != nil {
		return Item{}, err
	}
	now := s.Now()
	var unpublished bool
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		unpublished = false
		it, held, err := loadHeld(ctx, tx, p, id)
		if err != nil {
			return err
		}
		from := it.State
		live := it.PublishedVersion > 0 || !it.PublishAt.IsZero()
		check := from
		if a == ActionUnpublish && live {
			// A live item with a newer draft is still published to the
			// public: unpublishing it is allowed whatever the draft's state.
			check = StatePublished
		}
		if err := authorize(a, it.Ministry, held, check); err != nil {
			return err
		}
		if a == ActionApprove && !slices.Contains(s.cfg.FourEyesOff, it.Ministry) {
			if err := fourEyes(ctx, tx, it, p.Subject); err != nil {
				return err
			}
		}
		to := target(a, from)
		clear := a == ActionUnpublish || a == ActionArchive
		ok, err := setState(ctx, tx, id, it.Version, from, to, clear, now, p.Subject)
		if err != nil {
			return fmt.Errorf("%s %s: %w", a, id, err)
		}
		if !ok {
			return fmt.Errorf("%w: item %s changed while you acted on it; reload it", rpcerr.ErrConflict, id)
		}
		if clear && it.PublishedVersion > 0 {
			if err := s.takeDown(ctx, tx, it, now); err != nil {
				return err
			}
			unpublished = true
		}
		return recordTransition(ctx, tx, id, a, from, to, p.Subject, comment, it.Version, now)
	})
	if err != nil {
		return Item{}, err
	}
	if unpublished {
		s.cache.clear()
		s.Relay.Kick()
	}
	return s.GetItem(ctx, p, id)
}

// fourEyes refuses the approval of it's current version by whoever wrote
// it or submitted it: review needs a second person (issue 12). Rejecting
// is allowed: it only asks for changes.
func fourEyes(ctx context.Context, q store.Querier, it Item, approver string) error {
	savedBy, submitter, err := authorsOf(ctx, q, it.ID, it.Version)
	if err != nil {
		return fmt.Errorf("four-eyes check of %s: %w", it.ID, err)
	}
	switch approver {
	case submitter:
		return fmt.Errorf("%w: you submitted version %d of item %s; another editor must approve it (four-eyes review)",
			rpcerr.ErrPermissionDenied, it.Version, it.ID)
	case savedBy:
		return fmt.Errorf("%w: you wrote version %d of item %s; another editor must approve it (four-eyes review)",
			rpcerr.ErrPermissionDenied, it.Version, it.ID)
	}
	return nil
}

// PublishItem publishes the approved version now, or schedules it when
// publishAt is in the future; expireAt (optional) takes it down later.
func (s *Service) PublishItem(ctx context.Context, p Principal, id string, publishAt, expireAt time.Time, comment string) (Item, error) {
	if err := validateComment("comment", comment, false); err != nil {
		return Item{}, err
	}
	now := s.Now()
	publishAt = store.Stamp(publishAt)
	expireAt = store.Stamp(expireAt)
	scheduled := !publishAt.IsZero() && publishAt.After(now)
	from := now
	if scheduled {
		from = publishAt
	}
	if !expireAt.IsZero() && !expireAt.After(from) {
		return Item{}, &rpcerr.FieldError{Field: "expire_time", Reason: "must be after the publish time", Code: "expire_time.before_publish"}
	}
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		it, held, err := loadHeld(ctx, tx, p, id)
		if err != nil {
			return err
		}
		a := ActionPublish
		if scheduled {
			a = ActionSchedule
		}
		if err := authorize(a, it.Ministry, held, it.State); err != nil {
			return err
		}
		if scheduled {
			ok, err := setSchedule(ctx, tx, id, it.Version, publishAt, expireAt, now, p.Subject)
			if err != nil {
				return fmt.Errorf("schedule %s: %w", id, err)
			}
			if !ok {
				return fmt.Errorf("%w: item %s changed while you acted on it; reload it", rpcerr.ErrConflict, id)
			}
			c := comment
			if c == "" {
				c = "scheduled for " + publishAt.Format(time.RFC3339)
			}
			return recordTransition(ctx, tx, id, ActionSchedule, it.State, it.State, p.Subject, c, it.Version, now)
		}
		return s.publish(ctx, tx, it, p.Subject, comment, now, expireAt)
	})
	if err != nil {
		return Item{}, err
	}
	if !scheduled {
		s.metrics.publications.WithLabelValues(triggerNow).Inc()
	}
	s.cache.clear()
	s.Relay.Kick()
	return s.GetItem(ctx, p, id)
}

// publish makes the item's current version the public one as of at, inside tx;
// the caller has checked the actor may.
func (s *Service) publish(ctx context.Context, tx *sql.Tx, it Item, actor, comment string, at, expireAt time.Time) error {
	ok, err := markPublished(ctx, tx, it, expireAt, at, actor)
	if err != nil {
		return fmt.Errorf("publish %s: %w", it.ID, err)
	}
	if !ok {
		return fmt.Errorf("%w: item %s changed while it was being published; reload it", rpcerr.ErrConflict, it.ID)
	}
	from := it.State
	it.State, it.PublishedVersion, it.ExpireAt = StatePublished, it.Version, expireAt
	if err := s.putPublic(ctx, tx, it, at); err != nil {
		return err
	}
	if err := recordTransition(ctx, tx, it.ID, ActionPublish, from, StatePublished, actor, comment, it.Version, at); err != nil {
		return err
	}
	return s.enqueuePublished(ctx, tx, it, at)
}
