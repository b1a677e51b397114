package content

import (
	"io"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestRenderMarkdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
		refused         int
	}{
		{"paragraphs", "one\ntwo\n\nthree", "<p>one<br>two</p><p>three</p>", 0},
		{"heading", "## الشروط", "<h3>الشروط</h3>", 0},
		{"lists", "- a\n- b\n1. c", "<ul><li>a</li><li>b</li></ul><ol><li>c</li></ol>", 0},
		{"emphasis and code", "**bold** *it* _it_ `x<y`", "<p><strong>bold</strong> <em>it</em> <em>it</em> <code>x&lt;y</code></p>", 0},
		{"link", "[portal](https://gov.ps/a?b=1&c=2)", `<p><a href="https://gov.ps/a?b=1&amp;c=2" rel="noopener noreferrer">portal</a></p>`, 0},
		{"relative link", "[fees](/ar/fees)", `<p><a href="/ar/fees" rel="noopener noreferrer">fees</a></p>`, 0},
		{"mailto", "[mail](mailto:info@moh.ps)", `<p><a href="mailto:info@moh.ps" rel="noopener noreferrer">mail</a></p>`, 0},
		{"escape", `\*not em\*`, "<p>*not em*</p>", 0},
		{"script tag is text", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", 0},
		{"event handler is text", `<img src=x onerror="alert(1)">`, "<p>&lt;img src=x onerror=&#34;alert(1)&#34;&gt;</p>", 0},
		{"javascript link refused", "[x](javascript:alert(1))", "<p>x)</p>", 1},
		{"mixed-case scheme refused", "[x](JaVaScRiPt:alert)", "<p>x</p>", 1},
		{"data link refused", "[x](data:text/html;base64,PHNjcmlwdD4=)", "<p>x</p>", 1},
		{"protocol-relative refused", "[x](//evil.example)", "<p>x</p>", 1},
		{"entity trick refused", "[x](&#106;avascript:alert)", "<p>x</p>", 1},
		{"tab in scheme refused", "[x](java\tscript:alert)", "<p>x</p>", 1},
		{"quote breaks out refused", `[x](https://a.ps/"onmouseover=alert)`, "<p>x</p>", 1},
		{"no nested links", "[[a](/a)](/b)", `<p><a href="/b" rel="noopener noreferrer">[a](/a)</a></p>`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, refused := RenderMarkdown(tc.src)
			if got != tc.want || len(refused) != tc.refused {
				t.Errorf("RenderMarkdown(%q) = %q, refused %q; want %q, %d refused", tc.src, got, refused, tc.want, tc.refused)
			}
			assertSafeHTML(t, got)
		})
	}
}

func TestPlainText(t *testing.T) {
	t.Parallel()
	got := PlainText("## Steps\n- **Bring** your [ID](/id)\n\n<b>x</b>")
	if got != "Steps\nBring your ID\n<b>x</b>" {
		t.Errorf("PlainText = %q", got)
	}
}

// allowedTags are the only elements the renderer may produce.
var allowedTags = map[string]bool{"p": true, "br": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"ul": true, "ol": true, "li": true, "strong": true, "em": true, "code": true, "a": true}

// assertSafeHTML parses out as a browser would and fails on any element
// outside the allowlist, any attribute but a's href and rel, and any href
// whose scheme is not http, https or mailto (after entity decoding).
func assertSafeHTML(t testing.TB, out string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("tokenizer: %v", z.Err())
			}
			return
		case html.CommentToken, html.DoctypeToken:
			t.Fatalf("output %q holds a comment or doctype", out)
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tok := z.Token()
			if !allowedTags[tok.Data] {
				t.Fatalf("output %q holds element <%s>", out, tok.Data)
			}
			for _, a := range tok.Attr {
				if tok.Data != "a" || (a.Key != "href" && a.Key != "rel") {
					t.Fatalf("output %q holds attribute %s on <%s>", out, a.Key, tok.Data)
				}
				if a.Key == "href" {
					if strings.HasPrefix(a.Val, "/") && !strings.HasPrefix(a.Val, "//") || strings.HasPrefix(a.Val, "#") {
						continue
					}
					u, err := url.Parse(a.Val)
					if err != nil {
						t.Fatalf("output %q: href %q does not parse", out, a.Val)
					}
					if s := strings.ToLower(u.Scheme); s != "http" && s != "https" && s != "mailto" {
						t.Fatalf("output %q: href %q has scheme %q", out, a.Val, u.Scheme)
					}
				}
			}
		}
	}
}

// FuzzRenderMarkdown: whatever an editor types, the HTML holds only the
// allowlisted elements and attributes and safe link targets, and
// rendering never panics.
func FuzzRenderMarkdown(f *testing.F) {
	for _, s := range []string{
		"# t\n- a\n1. b\n\n**x** _y_ `z`", "<script>alert(1)</script>", "[a](javascript:alert(1))",
		`<a href="javascript:x" onclick=y>`, "[a](https://x.ps/\" onclick=\"y)", "[[a](/b)](/c)", "*[a](/x)*",
		"<!-- c -->", "<svg/onload=alert(1)>", "[x](\x00javascript:a)", "**[a](/b**)", "\\<script>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		out, _ := RenderMarkdown(src)
		assertSafeHTML(t, out)
		_ = PlainText(src)
	})
}
