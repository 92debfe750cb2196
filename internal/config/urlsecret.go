package config

import "net/url"

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
