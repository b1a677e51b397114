package content

import (
	"html"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Rich text is a small Markdown subset that ministry editors write and the
// public API serves as HTML:
//
//	# Heading … ###### Heading     → <h2> … <h6> (the page title is the h1)
//	- item / * item                 → <ul><li>
//	1. item / 1) item               → <ol><li>
//	blank line                      → new paragraph <p>
//	**bold**  *italic* _italic_     → <strong> <em>
//	`code`                          → <code>
//	[text](https://… | mailto:… | /path | #anchor) → <a href rel>
//	\*                              → a literal *
//
// The renderer never copies markup from its input: every character of
// text is HTML-escaped, and the only tags it writes are the ones above, with
// href (from the allowlisted schemes, escaped) and rel as the only
// attributes. Raw HTML typed into the source therefore shows as text, and
// no script, event handler or javascript: URL can reach a page. A link
// whose target is refused is rendered as its text, and Validate reports it
// to the editor.

// maxRichTextBytes bounds one rich-text field.
const maxRichTextBytes = 20000

// RenderMarkdown renders src to sanitised HTML. refused lists the link
// targets that were not allowed (rendered as plain text).
func RenderMarkdown(src string) (out string, refused []string) {
	r := &renderer{}
	r.blocks(src)
	return r.b.String(), r.refused
}

// PlainText returns src without its Markdown markers (link text kept,
// targets dropped), for search and snippets.
func PlainText(src string) string {
	r := &renderer{text: true}
	r.blocks(src)
	return strings.TrimSpace(r.b.String())
}

type renderer struct {
	b       strings.Builder
	text    bool // plain text instead of HTML
	refused []string
}

func (r *renderer) tag(s string) {
	if !r.text {
		r.b.WriteString(s)
	}
}

// blocks splits src into paragraphs, headings and lists.
func (r *renderer) blocks(src string) {
	if !utf8.ValidString(src) {
		src = strings.ToValidUTF8(src, "\uFFFD")
	}
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	lines := strings.Split(src, "\n")
	var para []string
	list := "" // "ul" or "ol" while in a list
	flushPara := func() {
		if len(para) == 0 {
			return
		}
		r.tag("<p>")
		r.inline(strings.Join(para, "\n"), false)
		r.tag("</p>")
		if r.text {
			r.b.WriteString("\n")
		}
		para = nil
	}
	closeList := func() {
		if list != "" {
			r.tag("</" + list + ">")
			list = ""
		}
	}
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			flushPara()
			closeList()
			continue
		}
		if level, text, ok := heading(trimmed); ok {
			flushPara()
			closeList()
			h := string(rune('0' + min(level+1, 6)))
			r.tag("<h" + h + ">")
			r.inline(text, false)
			r.tag("</h" + h + ">")
			if r.text {
				r.b.WriteString("\n")
			}
			continue
		}
		if kind, text, ok := listItem(trimmed); ok {
			flushPara()
			if list != kind {
				closeList()
				r.tag("<" + kind + ">")
				list = kind
			}
			r.tag("<li>")
			r.inline(text, false)
			r.tag("</li>")
			if r.text {
				r.b.WriteString("\n")
			}
			continue
		}
		closeList()
		para = append(para, trimmed)
	}
	flushPara()
	closeList()
}

// heading recognises "# text" … "###### text".
func heading(line string) (level int, text string, ok bool) {
	for level < len(line) && level < 7 && line[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || level >= len(line) || line[level] != ' ' {
		return 0, "", false
	}
	return level, strings.TrimSpace(line[level:]), true
}

// listItem recognises "- x", "* x", "1. x" and "1) x".
func listItem(line string) (kind, text string, ok bool) {
	if len(line) >= 2 && (line[0] == '-' || line[0] == '*') && line[1] == ' ' {
		return "ul", strings.TrimSpace(line[2:]), true
	}
	i := 0
	for i < len(line) && i < 9 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(line) && (line[i] == '.' || line[i] == ')') && line[i+1] == ' ' {
		return "ol", strings.TrimSpace(line[i+2:]), true
	}
	return "", "", false
}

// inline renders emphasis, code and links in s; inLink forbids nested links.
func (r *renderer) inline(s string, inLink bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\\`*_[]()#-+.!>", s[i+1]) >= 0:
			r.text1(s[i+1 : i+2])
			i += 2
			continue
		case c == '\n':
			r.tag("<br>")
			if r.text {
				r.b.WriteString(" ")
			}
			i++
			continue
		case c == '`':
			if j := strings.IndexByte(s[i+1:], '`'); j > 0 {
				r.tag("<code>")
				r.text1(s[i+1 : i+1+j])
				r.tag("</code>")
				i += j + 2
				continue
			}
		case c == '*' && strings.HasPrefix(s[i:], "**"):
			if j := strings.Index(s[i+2:], "**"); j > 0 {
				r.tag("<strong>")
				r.inline(s[i+2:i+2+j], inLink)
				r.tag("</strong>")
				i += j + 4
				continue
			}
		case c == '*' || c == '_':
			if j := strings.IndexByte(s[i+1:], c); j > 0 && s[i+1] != ' ' {
				r.tag("<em>")
				r.inline(s[i+1:i+1+j], inLink)
				r.tag("</em>")
				i += j + 2
				continue
			}
		case c == '[' && !inLink:
			if text, target, n, ok := link(s[i:]); ok {
				if href, good := safeHref(target); good {
					r.tag(`<a href="` + html.EscapeString(href) + `" rel="noopener noreferrer">`)
					r.inline(text, true)
					r.tag("</a>")
				} else {
					r.refused = append(r.refused, target)
					r.inline(text, true)
				}
				i += n
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		r.text1(s[i : i+size])
		i += size
	}
}

// text1 writes literal text, escaped unless rendering plain text.
func (r *renderer) text1(s string) {
	if r.text {
		r.b.WriteString(s)
		return
	}
	r.b.WriteString(escapeHTML(s))
}

// link parses "[text](target)" at the start of s; n is its length.
func link(s string) (text, target string, n int, ok bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				if i+1 >= len(s) || s[i+1] != '(' {
					return "", "", 0, false
				}
				end := strings.IndexByte(s[i+2:], ')')
				if end < 0 {
					return "", "", 0, false
				}
				return s[1:i], strings.TrimSpace(s[i+2 : i+2+end]), i + 2 + end + 1, true
			}
		case '\n':
			return "", "", 0, false
		}
	}
	return "", "", 0, false
}

// safeHref allows http, https and mailto URLs, site-relative paths and
// fragments; everything else (javascript:, data:, vbscript:, protocol-
// relative //host, anything with control characters or spaces) is refused.
func safeHref(target string) (string, bool) {
	if target == "" || len(target) > 2048 {
		return "", false
	}
	for _, r := range target {
		if r <= ' ' || r == 0x7f || r == '\\' || r == '"' || r == '\'' || r == '<' || r == '>' || r == '`' {
			return "", false
		}
	}
	if strings.HasPrefix(target, "#") {
		return target, true
	}
	if strings.HasPrefix(target, "/") {
		if strings.HasPrefix(target, "//") {
			return "", false
		}
		if _, err := url.Parse(target); err != nil {
			return "", false
		}
		return target, true
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", false
		}
		return target, true
	case "mailto":
		if u.Opaque == "" {
			return "", false
		}
		return target, true
	}
	return "", false
}

// escapeHTML escapes text for element content and quoted attributes.
func escapeHTML(s string) string { return html.EscapeString(s) }
