package content

import (
	"fmt"
	"strconv"
	"strings"
)

// Change is one field that differs between two versions; Path is the
// field's JSON path ("translations.ar.title", "translations.en.fees[1].amount",
// "tags"). A field missing on one side is the empty string there.
type Change struct {
	Path string
	From string
	To   string
}

// Diff compares two versions' content field by field and returns exactly
// the fields that differ, in a stable order (tags first, then Arabic, then
// English, each in the order of the translation's fields).
func Diff(from, to Content) []Change {
	a, b := flatten(from), flatten(to)
	av := make(map[string]string, len(a))
	for _, kv := range a {
		av[kv[0]] = kv[1]
	}
	bv := make(map[string]string, len(b))
	for _, kv := range b {
		bv[kv[0]] = kv[1]
	}
	var out []Change
	seen := map[string]bool{}
	for _, list := range [][][2]string{a, b} {
		for _, kv := range list {
			p := kv[0]
			if seen[p] {
				continue
			}
			seen[p] = true
			if av[p] != bv[p] {
				out = append(out, Change{Path: p, From: av[p], To: bv[p]})
			}
		}
	}
	// Keep the canonical field order whichever side a path came from.
	order := canonicalOrder()
	sortChanges(out, order)
	return out
}

// flatten lists c's leaf fields as (path, value) pairs.
func flatten(c Content) [][2]string {
	var out [][2]string
	add := func(p, v string) {
		if v != "" {
			out = append(out, [2]string{p, v})
		}
	}
	add("tags", strings.Join(c.Tags, ", "))
	for _, lang := range Languages {
		tr, ok := c.Translations[lang]
		if !ok {
			continue
		}
		p := "translations." + lang + "."
		add(p+"slug", tr.Slug)
		add(p+"title", tr.Title)
		add(p+"summary", tr.Summary)
		add(p+"body", tr.Body)
		add(p+"eligibility", tr.Eligibility)
		for i, d := range tr.RequiredDocuments {
			add(fmt.Sprintf("%srequired_documents[%d]", p, i), d)
		}
		for i, f := range tr.Fees {
			fp := fmt.Sprintf("%sfees[%d].", p, i)
			add(fp+"description", f.Description)
			add(fp+"amount", strconv.FormatInt(f.Amount, 10))
			add(fp+"currency", f.Currency)
		}
		for i, s := range tr.Steps {
			add(fmt.Sprintf("%ssteps[%d]", p, i), s)
		}
		add(p+"processing_time", tr.ProcessingTime)
		for i, l := range tr.Links {
			lp := fmt.Sprintf("%slinks[%d].", p, i)
			add(lp+"title", l.Title)
			add(lp+"url", l.URL)
		}
		for i, q := range tr.Questions {
			qp := fmt.Sprintf("%squestions[%d].", p, i)
			add(qp+"question", q.Question)
			add(qp+"answer", q.Answer)
		}
	}
	return out
}

// fieldRank orders the fields of a translation.
var fieldRank = map[string]int{
	"slug": 0, "title": 1, "summary": 2, "body": 3, "eligibility": 4, "required_documents": 5,
	"fees": 6, "steps": 7, "processing_time": 8, "links": 9, "questions": 10,
}

// canonicalOrder returns a sort key for a path.
func canonicalOrder() func(p string) string {
	return func(p string) string {
		if p == "tags" {
			return "0"
		}
		rest, ok := strings.CutPrefix(p, "translations.")
		if !ok {
			return "9" + p
		}
		lang, field, _ := strings.Cut(rest, ".")
		li := "8"
		for i, l := range Languages {
			if l == lang {
				li = strconv.Itoa(i + 1)
			}
		}
		name, idx, _ := strings.Cut(field, "[")
		key := fmt.Sprintf("%s%02d", li, fieldRank[name])
		if idx != "" {
			n, tail, _ := strings.Cut(idx, "]")
			num, _ := strconv.Atoi(n)
			key += fmt.Sprintf("%04d%s", num, tail)
		}
		return key
	}
}

func sortChanges(cs []Change, key func(string) string) {
	// Insertion sort: diffs are short.
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && key(cs[j].Path) < key(cs[j-1].Path); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}
