package gateway

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
)

// The API reference at /docs is Redoc (npm redoc, the standalone bundle
// tools/internal/openapi-lint pins), embedded in the binary and served by
// the gateway itself: no CDN. The page around it, in Arabic and English,
// is templates/docs.html.
//
//go:embed templates/docs.html templates/redoc.standalone.js
var templateFS embed.FS

// docsScriptPath is where the gateway serves the Redoc bundle.
const docsScriptPath = "/docs/redoc.standalone.js"

// docsInit starts Redoc on /openapi.json. Its hash is in the page's CSP.
// Redoc's defaults fall short of WCAG 2.1 AA (TestBrowserDocsAccessible):
// a response tab's colour is read on the code blocks' background when
// not selected and on white when selected, so the blocks are black and
// each tab colour has a luminance near 0.18, which is 4.5:1 against
// both; the grey of the "Response Schema" headings is darkened (its
// extension hook); and the examples' scrollable <pre> blocks are made
// focusable, so that a keyboard can scroll them.
const docsInit = `Redoc.init("/openapi.json", {` +
	`expandResponses: "200,201", jsonSampleExpandLevel: 4, requiredPropsFirst: true, sortPropsAlphabetically: false, ` +
	`hideDownloadButton: false, showExtensions: ["x-tamkeen-policy"], pathInMiddlePanel: true, ` +
	`theme: {colors: {primary: {main: "#0b6e4f"}, ` +
	`responses: {success: {tabTextColor: "#188730"}, error: {tabTextColor: "#e0301e"}, redirect: {tabTextColor: "#aa6600"}, info: {tabTextColor: "#3a70e0"}}}, ` +
	`codeBlock: {backgroundColor: "#000000"}, ` +
	`extensionsHook: (name) => name === "UnderlinedHeader" ? "color: #4a5257;" : "", typography: {fontFamily: "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Naskh Arabic', sans-serif", headings: {fontFamily: "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Naskh Arabic', sans-serif"}}}` +
	`}, document.getElementById("redoc"), () => {` +
	`const focusable = () => document.querySelectorAll("#redoc pre:not([tabindex])").forEach((pre) => { pre.tabIndex = 0; }); ` +
	`focusable(); new MutationObserver(focusable).observe(document.getElementById("redoc"), {childList: true, subtree: true}); });`

// docsPage is the data of templates/docs.html.
type docsPage struct {
	Title, Version, OpenAPI, Script string
	Init                            template.JS
}

// docsCSP is the /docs page's Content-Security-Policy: scripts only the
// gateway's own Redoc bundle and the one inline start-up script (by hash),
// data only from the gateway (/openapi.json), Redoc's search index in a
// blob: worker, inline styles (Redoc's styled-components write them), and
// nothing framed, framing or posted.
var docsCSP = "default-src 'none'; script-src 'self' 'sha256-" + scriptHash(docsInit) + "'; " +
	"style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// scriptHash is the CSP hash source value of an inline script.
func scriptHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// renderDocs renders the /docs page.
func renderDocs(title, version string) ([]byte, error) {
	tmpl, err := template.ParseFS(templateFS, "templates/docs.html")
	if err != nil {
		return nil, fmt.Errorf("gateway: docs template: %w", err)
	}
	var buf bytes.Buffer
	page := docsPage{Title: title, Version: version, OpenAPI: openAPIVersion, Script: docsScriptPath, Init: template.JS(docsInit)}
	if err := tmpl.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("gateway: render docs: %w", err)
	}
	return buf.Bytes(), nil
}

// docsScript returns the embedded Redoc bundle.
func docsScript() ([]byte, error) {
	b, err := templateFS.ReadFile("templates/redoc.standalone.js")
	if err != nil {
		return nil, fmt.Errorf("gateway: docs script: %w", err)
	}
	return b, nil
}

// apiTitle is the document's and the page's title.
const apiTitle = "Tamkeen — e-service enablers API"

// buildDocs builds the OpenAPI document and the docs page once, at New.
func (g *Gateway) buildDocs() error {
	doc, yamlDoc, err := OpenAPIDocument(g.cfg.Version, g.cfg.Issuer)
	if err != nil {
		return err
	}
	page, err := renderDocs(apiTitle, g.cfg.Version)
	if err != nil {
		return err
	}
	script, err := docsScript()
	if err != nil {
		return err
	}
	services, err := serviceDocuments(doc)
	if err != nil {
		return err
	}
	g.openapi, g.openapiYAML, g.docs, g.docsScript, g.serviceDocs = doc, yamlDoc, page, script, services
	return nil
}
