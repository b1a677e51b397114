package config

import "net/url"

// IsHTTPURL reports whether s is an absolute http or https URL with a
// host: what every URL setting that another process is reached at must be.
func IsHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// HTTPURL records "must be an http(s) URL" for field when v is not one
// (IsHTTPURL); an empty v is a problem only when the setting is required.
func (p *Problems) HTTPURL(field, v string, required bool) {
	if (v != "" || required) && !IsHTTPURL(v) {
		p.Add(field, "must be an http(s) URL")
	}
}
