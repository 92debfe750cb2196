package config

import "net/url"

// URLSecrets are the credentials an HTTP server's URL may carry, the parts
// RedactURL masks: the password of its user info and the values of its
// query parameters ("?api_key=…"), each also as the URL escapes it.
// Connection errors name the URL (Go masks the password only), so these
// are masked in text like env and header values.
func URLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return nil
	}
	var out []string
	if p, ok := u.User.Password(); ok {
		out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			out = append(out, v, url.QueryEscape(v))
		}
	}
	return out
}

// RedactURL is raw with the password of its user info and the values of
// its query replaced by mask: they are an HTTP server's credentials as
// often as its headers are. raw is returned as it is when it holds
// neither, or is not a URL.
func RedactURL(raw, mask string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return raw
	}
	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), mask)
		changed = true
	}
	if u.RawQuery != "" {
		q := u.Query()
		for _, vs := range q {
			for i := range vs {
				vs[i] = mask
			}
		}
		u.RawQuery = q.Encode()
		changed = true
	}
	if !changed {
		return raw
	}
	return u.String()
}
