package gateway

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// serviceDocPath is where each enabler's own OpenAPI description is
// served: what an X-Road/UXP security server registers as the enabler's
// REST service (PR-REST), one service per document.
const serviceDocPath = "/openapi/{service}"

// serviceTag is the enabler whose operations carry an OpenAPI tag
// ("PaymentService" → "payment"); "" for the gateway's own.
func serviceTag(tag string) string {
	name, ok := strings.CutSuffix(tag, "Service")
	if !ok {
		return ""
	}
	return strings.ToLower(name)
}

// refPattern finds the component references of a document.
var refPattern = regexp.MustCompile(`"#/components/(schemas|responses|parameters|requestBodies|headers)/([^"]+)"`)

// serviceDocuments splits the OpenAPI document doc by enabler: for each,
// its tag, the paths of its operations, the webhooks it sends and only the
// components those reach, under the same servers and security schemes.
func serviceDocuments(doc []byte) (map[string][]byte, error) {
	var all map[string]any
	if err := json.Unmarshal(doc, &all); err != nil {
		return nil, fmt.Errorf("gateway: service documents: %w", err)
	}
	paths, _ := all["paths"].(map[string]any)
	byService := map[string]map[string]any{}
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for _, op := range ops {
			o, _ := op.(map[string]any)
			tags, _ := o["tags"].([]any)
			for _, t := range tags {
				if s := serviceTag(fmt.Sprint(t)); s != "" {
					if byService[s] == nil {
						byService[s] = map[string]any{}
					}
					byService[s][p] = item
				}
			}
		}
	}
	out := map[string][]byte{}
	for s, ps := range byService {
		d := map[string]any{}
		for k, v := range all {
			d[k] = v
		}
		info := map[string]any{}
		if i, ok := all["info"].(map[string]any); ok {
			maps.Copy(info, i)
		}
		info["title"] = fmt.Sprintf("%s: %s", apiTitle, s)
		d["info"], d["paths"] = info, ps
		var tags []any
		for _, t := range asSlice(all["tags"]) {
			if m, _ := t.(map[string]any); m != nil && serviceTag(fmt.Sprint(m["name"])) == s {
				tags = append(tags, t)
			}
		}
		d["tags"] = tags
		hooks := map[string]any{}
		for name, h := range asMap(all["webhooks"]) {
			if strings.HasPrefix(strings.ToLower(name), s) {
				hooks[name] = h
			}
		}
		delete(d, "webhooks")
		if len(hooks) > 0 {
			d["webhooks"] = hooks
		}
		d["components"] = reachableComponents(asMap(all["components"]), map[string]any{"paths": ps, "webhooks": hooks})
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		out[s] = b
	}
	return out, nil
}

// reachableComponents keeps the components that from references,
// directly or through other components, and every security scheme.
func reachableComponents(comps map[string]any, from any) map[string]any {
	keep := map[string]map[string]bool{}
	queue := []any{from}
	for len(queue) > 0 {
		b, _ := json.Marshal(queue[0])
		queue = queue[1:]
		for _, m := range refPattern.FindAllStringSubmatch(string(b), -1) {
			kind, name := m[1], m[2]
			if keep[kind] == nil {
				keep[kind] = map[string]bool{}
			}
			if keep[kind][name] {
				continue
			}
			keep[kind][name] = true
			if c, ok := asMap(comps[kind])[name]; ok {
				queue = append(queue, c)
			}
		}
	}
	out := map[string]any{}
	for kind, v := range comps {
		if kind == "securitySchemes" {
			out[kind] = v
			continue
		}
		kept := map[string]any{}
		for _, name := range slices.Sorted(maps.Keys(keep[kind])) {
			if c, ok := asMap(v)[name]; ok {
				kept[name] = c
			}
		}
		if len(kept) > 0 {
			out[kind] = kept
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// serveServiceDoc answers GET /openapi/{service}.
func (g *Gateway) serveServiceDoc(w http.ResponseWriter, r *http.Request, params map[string]string) {
	doc, ok := g.serviceDocs[params["service"]]
	if !ok {
		writeProblem(w, r, Problem{Type: problemTypePrefix + "not-found", Status: http.StatusNotFound,
			Detail: "no enabler " + params["service"] + "; the documents are " + strings.Join(slices.Sorted(maps.Keys(g.serviceDocs)), ", ")}, nil)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}
