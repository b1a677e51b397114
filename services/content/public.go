package content

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// PublicTranslation is a translation as the public sees it: rich text as
// sanitised HTML, Markdown sources left out.
type PublicTranslation struct {
	Translation
	BodyHTML        string   `json:"body_html,omitempty"`
	EligibilityHTML string   `json:"eligibility_html,omitempty"`
	AnswersHTML     []string `json:"answers_html,omitempty"`
}

// PublicContent is a published item in one language.
type PublicContent struct {
	ID, Type, Ministry string
	Tags               []string
	Lang               string
	// Fallback is true when the asked-for language was missing and Lang is
	// the other one.
	Fallback    bool
	Translation PublicTranslation
	PublishTime time.Time
	ExpireTime  time.Time
	Version     int
	// ETag is a quoted strong entity tag of this representation.
	ETag string
}

// Hit is one search result.
type Hit struct {
	Content PublicContent
	Score   float64
	// Snippet is HTML: escaped text with the matched words in <mark>.
	Snippet string
}

// publicOf renders tr for the public.
func publicOf(tr Translation) PublicTranslation {
	p := PublicTranslation{Translation: tr}
	p.BodyHTML, _ = RenderMarkdown(tr.Body)
	p.EligibilityHTML, _ = RenderMarkdown(tr.Eligibility)
	p.Body, p.Eligibility = "", ""
	p.Questions = make([]QA, len(tr.Questions))
	for i, qa := range tr.Questions {
		h, _ := RenderMarkdown(qa.Answer)
		p.Questions[i] = QA{Question: qa.Question}
		p.AnswersHTML = append(p.AnswersHTML, h)
	}
	if len(p.Questions) == 0 {
		p.Questions = nil
	}
	return p
}

// searchFields returns the plain text of a translation's title, summary
// and everything else, for indexing and snippets.
func searchFields(tr Translation, tags []string) (title, summary, body string) {
	var b []string
	b = append(b, PlainText(tr.Body), PlainText(tr.Eligibility))
	b = append(b, tr.RequiredDocuments...)
	for _, f := range tr.Fees {
		b = append(b, f.Description)
	}
	b = append(b, tr.Steps...)
	b = append(b, tr.ProcessingTime)
	for _, l := range tr.Links {
		b = append(b, l.Title)
	}
	for _, qa := range tr.Questions {
		b = append(b, qa.Question, PlainText(qa.Answer))
	}
	b = append(b, tags...)
	return tr.Title, tr.Summary, strings.Join(slices.DeleteFunc(b, func(s string) bool { return s == "" }), "\n")
}

// etagOf names one published representation.
func etagOf(id, lang string, version int, at time.Time) string {
	sum := sha256.Sum256([]byte(id + "|" + lang + "|" + strconv.Itoa(version) + "|" + strconv.FormatInt(at.UnixMicro(), 10)))
	return `"` + idEncoding.EncodeToString(sum[:15]) + `"`
}

// putPublic replaces the item's public rows and search index with its
// current version as published at at.
func (s *Service) putPublic(ctx context.Context, tx *sql.Tx, it Item, at time.Time) error {
	if err := deletePublic(ctx, tx, it.ID); err != nil {
		return err
	}
	tags, err := json.Marshal(append([]string{}, it.Tags...))
	if err != nil {
		return err
	}
	for _, lang := range Languages {
		tr, ok := it.Translations[lang]
		if !ok {
			continue
		}
		doc, err := json.Marshal(publicOf(tr))
		if err != nil {
			return err
		}
		title, summary, body := searchFields(tr, it.Tags)
		if err := insertPublic(ctx, tx, it, lang, tr.Slug, string(tags), at, string(doc), etagOf(it.ID, lang, it.Version, at), strings.TrimSpace(summary+"\n"+body)); err != nil {
			return fmt.Errorf("publish %s/%s: %w", it.ID, lang, err)
		}
		if err := insertSearch(ctx, tx, it.ID, lang, strings.Join(Terms(title), " "), strings.Join(Terms(summary), " "), strings.Join(Terms(body), " ")); err != nil {
			return fmt.Errorf("index %s/%s: %w", it.ID, lang, err)
		}
	}
	for _, tag := range it.Tags {
		if err := insertPublicTag(ctx, tx, it.ID, tag); err != nil {
			return fmt.Errorf("publish tags of %s: %w", it.ID, err)
		}
	}
	return nil
}

// takeDown removes a live item from the public and announces it.
func (s *Service) takeDown(ctx context.Context, tx *sql.Tx, it Item, at time.Time) error {
	if err := deletePublic(ctx, tx, it.ID); err != nil {
		return err
	}
	return s.enqueueUnpublished(ctx, tx, it, at)
}

// parseLang checks lang; empty means Arabic.
func parseLang(lang string) (string, error) {
	if lang == "" {
		return "ar", nil
	}
	if !slices.Contains(Languages, lang) {
		return "", &rpcerr.FieldError{Field: "lang", Reason: "must be ar or en", Code: "lang.unsupported"}
	}
	return lang, nil
}

const publicColumns = `item_id, lang, slug, ministry, type, tags, version, publish_time, expire_at, doc, etag`

func scanPublic(sc store.Row) (PublicContent, error) {
	var (
		pc        PublicContent
		slug      string
		tags, doc string
		exp       sql.NullTime
	)
	if err := sc.Scan(&pc.ID, &pc.Lang, &slug, &pc.Ministry, &pc.Type, &tags, &pc.Version,
		store.ScanTime(&pc.PublishTime), store.ScanNullTime(&exp), &doc, &pc.ETag); err != nil {
		return PublicContent{}, err
	}
	if exp.Valid {
		pc.ExpireTime = exp.Time
	}
	if err := json.Unmarshal([]byte(tags), &pc.Tags); err != nil {
		return PublicContent{}, fmt.Errorf("public tags of %s: %w", pc.ID, err)
	}
	if err := json.Unmarshal([]byte(doc), &pc.Translation); err != nil {
		return PublicContent{}, fmt.Errorf("public doc of %s: %w", pc.ID, err)
	}
	return pc, nil
}

// withFallback marks pc as the other language's representation.
func withFallback(pc PublicContent) PublicContent {
	pc.Fallback = true
	pc.ETag = strings.TrimSuffix(pc.ETag, `"`) + `-fallback"`
	return pc
}

// maxSlugBytes bounds a slug asked for: maxSlugRune characters of at
// most 4 bytes each.
const maxSlugBytes = 4 * maxSlugRune

// GetPublicContent returns the published item that has slug (in either
// language) in lang, or in the other language with Fallback set when it
// has no lang translation. Drafts, scheduled and expired items are not
// found.

func (s *Service) GetPublicContent(ctx context.Context, slug, lang string) (PublicContent, error) {
	lang, err := parseLang(lang)
	if err != nil {
		return PublicContent{}, err
	}
	if slug == "" {
		return PublicContent{}, &rpcerr.FieldError{Field: "slug", Reason: "is required", Code: "slug.required"}
	}
	if len(slug) > maxSlugBytes {
		return PublicContent{}, &rpcerr.FieldError{Field: "slug", Reason: fmt.Sprintf("must be at most %d bytes", maxSlugBytes), Code: "slug.too_many_bytes", Args: rpcerr.ArgList(strconv.Itoa(maxSlugBytes))}
	}
	key := lang + "|" + slug
	if pc, ok := s.cache.get(key); ok {
		return pc, nil
	}
	now := s.Now()
	found, err := publicBySlug(ctx, s.DB, slug, now)
	if err != nil {
		return PublicContent{}, err
	}
	if len(found) == 0 {
		return PublicContent{}, fmt.Errorf("%w: no published content at %q", rpcerr.ErrNotFound, truncate(slug, 100))
	}
	pc := found[0]
	if i := slices.IndexFunc(found, func(p PublicContent) bool { return p.Lang == lang }); i >= 0 {
		pc = found[i]
	} else {
		pc = withFallback(pc)
	}
	s.cache.put(key, pc)
	return pc, nil
}

// PublicFilter selects published content.
type PublicFilter struct {
	Ministry, Type, Tag, Lang string
	PageSize                  int32
	PageToken                 string
}

// langClause keeps, per item, the row in lang ($1), or the other
// language's row when the item has no lang translation.
const langClause = `(p.lang = $1 OR NOT EXISTS (SELECT 1 FROM content_public q WHERE q.item_id = p.item_id AND q.lang = $1))`

// ListPublicContent lists published content, newest first.
func (s *Service) ListPublicContent(ctx context.Context, f PublicFilter) ([]PublicContent, string, error) {
	lang, err := parseLang(f.Lang)
	if err != nil {
		return nil, "", err
	}
	limit, offset, err := parseListPage(f.PageSize, f.PageToken, f.Type)
	if err != nil {
		return nil, "", err
	}
	out, err := listPublic(ctx, s.DB, lang, f, s.Now(), limit+1, offset)
	if err != nil {
		return nil, "", err
	}
	for i, pc := range out {
		if pc.Lang != lang {
			out[i] = withFallback(pc)
		}
	}
	next := ""
	if len(out) > limit {
		out, next = out[:limit], pageToken(offset+limit)
	}
	return out, next, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// Field weights of the ranking: a word in the title counts more than one
// in the summary, which counts more than one in the body.
const (
	weightTitle   = 3.0
	weightSummary = 2.0
	weightBody    = 1.0
)

// SearchPublicContent searches published content in lang (items without
// a lang translation are searched in the other language and flagged).
// Every query word must match; hits are ranked by where the words are
// (title, then summary, then the rest), then by publish time.
func (s *Service) SearchPublicContent(ctx context.Context, q, lang string, size int32, token string) ([]Hit, string, int, error) {
	lang, err := parseLang(lang)
	if err != nil {
		return nil, "", 0, err
	}
	query, err := ParseQuery(q)
	if err != nil {
		return nil, "", 0, err
	}
	limit, offset, err := parsePage(size, token, 10, 50)
	if err != nil {
		return nil, "", 0, err
	}
	match := query.ftsMatch()
	if s.DB.Engine() == store.Postgres {
		match = query.tsQuery()
	}
	type cand struct {
		id, lang  string
		score     float64
		published time.Time
	}
	var cands []cand
	err = s.searchMatches(ctx, lang, match, s.Now(), func(id, lang, title, summary, body string, published time.Time) {
		cands = append(cands, cand{id: id, lang: lang, score: score(query.Terms, title, summary, body), published: published})
	})
	if err != nil {
		return nil, "", 0, err
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.score != b.score {
			return a.score > b.score
		}
		if !a.published.Equal(b.published) {
			return a.published.After(b.published)
		}
		return a.id < b.id
	})
	total := len(cands)
	if offset >= total {
		return nil, "", total, nil
	}
	end := min(offset+limit, total)
	terms := map[string]bool{}
	for _, t := range query.Terms {
		terms[t] = true
	}
	hits := make([]Hit, 0, end-offset)
	for _, c := range cands[offset:end] {
		pc, text, err := publicWithSnippet(ctx, s.DB, c.id, c.lang)
		if err != nil {
			return nil, "", 0, fmt.Errorf("search hit %s: %w", c.id, err)
		}
		if pc.Lang != lang {
			pc = withFallback(pc)
		}
		snippet := highlight(text, terms, 24)
		if !strings.Contains(snippet, "<mark>") {
			snippet = highlight(pc.Translation.Title, terms, 24)
		}
		hits = append(hits, Hit{Content: pc, Score: c.score, Snippet: snippet})
	}
	next := ""
	if end < total {
		next = pageToken(end)
	}
	return hits, next, total, nil
}

// publicRow scans publicColumns plus snippet_text.
type publicRow struct {
	row  *sql.Row
	text *string
}

func (p publicRow) Scan(dst ...any) error { return p.row.Scan(append(dst, p.text)...) }

// score weighs each query term's occurrences by field; repeats beyond
// three in a field do not count, so stuffing a word does not win.
func score(terms []string, title, summary, body string) float64 {
	count := func(field, term string) float64 {
		n := 0
		for w := range strings.FieldsSeq(field) {
			if w == term {
				n++
				if n == 3 {
					break
				}
			}
		}
		return float64(n)
	}
	total := 0.0
	for _, t := range terms {
		total += weightTitle*count(title, t) + weightSummary*count(summary, t) + weightBody*count(body, t)
	}
	return total
}

// publicCache keeps recently read public items in memory for a short TTL.
// A replica clears it when it publishes or unpublishes; other replicas
// see the change within the TTL (the documented staleness bound).
type publicCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cached
}

type cached struct {
	pc PublicContent
	at time.Time
}

const maxCached = 10000

func newPublicCache(ttl time.Duration, now func() time.Time) *publicCache {
	return &publicCache{ttl: ttl, now: now, m: map[string]cached{}}
}

func (c *publicCache) get(key string) (PublicContent, bool) {
	if c.ttl <= 0 {
		return PublicContent{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	now := c.now()
	if !ok || now.Sub(e.at) >= c.ttl || (!e.pc.ExpireTime.IsZero() && !now.Before(e.pc.ExpireTime)) {
		return PublicContent{}, false
	}
	return e.pc, true
}

func (c *publicCache) put(key string, pc PublicContent) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	c.m[key] = cached{pc: pc, at: c.now()}
}

func (c *publicCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
