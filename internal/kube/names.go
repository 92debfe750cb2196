package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// Names and labels of the objects this backend creates. Kubernetes allows
// fewer characters in names and label values than Docker and mcpproxy's
// server names do, so every value that may not fit is mapped to one that
// does; the verbatim values ride along as annotations of the same key.
const (
	// labelPod is a label unique to one pod (its name), which its
	// NetworkPolicy selects.
	labelPod = "com.mcpproxy.pod"
	// annotationName is StartOptions.Name, verbatim.
	annotationName = "com.mcpproxy.name"
	// annotationProfile is the Plan's security profile.
	annotationProfile = "com.mcpproxy.profile"
	// containerName is the name of the server's container inside its pod.
	containerName = "server"
	// maxName is the longest pod name used: a DNS label, so that the pod's
	// hostname is its name.
	maxName = content.DNS1123LabelMaxLength
)

// objectName maps a container name (isolation.ContainerName) or a volume
// name to an object name: a DNS-1123 label of at most 63 lowercase letters,
// digits and '-'. A name that needs no change is kept; any other one is
// sanitized and ends in eight hex digits of a hash of the original, so two
// names that differ only in case or punctuation still get distinct objects.
func objectName(name string) string {
	clean := dnsLabel(name)
	if clean == name && len(clean) <= maxName {
		return clean
	}
	suffix := "-" + shortHash(name)
	if len(clean) > maxName-len(suffix) {
		clean = strings.TrimRight(clean[:maxName-len(suffix)], "-")
	}
	if clean == "" {
		clean = "mcpproxy"
	}
	return clean + suffix
}

// dnsLabel lowercases s and replaces every run of characters other than
// [a-z0-9] with one '-', trimming '-' at both ends.
func dnsLabel(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// labelValue maps v to a valid label value: v itself when it is one (at most
// 63 characters of [A-Za-z0-9._-], alphanumeric at both ends, or empty);
// otherwise a sanitized prefix and a hash of v. The mapping is stable, so a
// selector on the mapped value finds every object of that value.
func labelValue(v string) string {
	if len(content.IsLabelValue(v)) == 0 {
		return v
	}
	suffix := "-" + shortHash(v)
	var b strings.Builder
	for _, r := range v {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	clean := b.String()
	if len(clean) > content.LabelValueMaxLength-len(suffix) {
		clean = clean[:content.LabelValueMaxLength-len(suffix)]
	}
	clean = strings.TrimLeft(clean, "._-")
	if clean == "" {
		return "x" + suffix
	}
	return clean + suffix
}

// objectLabels maps the caller's labels (the isolation.Label* set) to
// Kubernetes labels and annotations: every value that is not a valid label
// value is mapped (labelValue) and kept verbatim as an annotation of the
// same key. pod is added as labelPod. A key that is not a valid label key is
// an error.
func objectLabels(in map[string]string, pod string) (labels, annotations map[string]string, err error) {
	labels = make(map[string]string, len(in)+1)
	annotations = map[string]string{}
	for k, v := range in {
		if errs := content.IsLabelKey(k); len(errs) > 0 {
			return nil, nil, fmt.Errorf("label key %q: %s", k, strings.Join(errs, "; "))
		}
		lv := labelValue(v)
		labels[k] = lv
		if lv != v {
			annotations[k] = v
		}
	}
	labels[labelPod] = pod
	return labels, annotations, nil
}

// restoreLabels returns the mcpproxy labels of an object as the caller gave
// them: each isolation.Label* key with its verbatim value (from the
// annotation when the label holds a mapped one).
func restoreLabels(labels, annotations map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{isolation.LabelManaged, isolation.LabelInstance, isolation.LabelServer, isolation.LabelHost, isolation.LabelDataDir} {
		if v, ok := annotations[k]; ok {
			out[k] = v
		} else if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}
