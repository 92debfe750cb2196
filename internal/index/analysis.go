package index

import (
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/porter"
	unicodetok "github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"
)

// identifierFilterName is the registry name of identifierFilter. Bleve's
// registry is process-global, so the name carries our prefix.
const identifierFilterName = "mcpproxy_identifier"

// analyzerName is the analyzer used for every field and for queries, so a
// query is cut into terms exactly the way tool names and descriptions are.
const analyzerName = "mcpproxy_tool"

func init() {
	err := registry.RegisterTokenFilter(identifierFilterName,
		func(map[string]interface{}, *registry.Cache) (analysis.TokenFilter, error) {
			return identifierFilter{}, nil
		})
	if err != nil {
		panic(err)
	}
}

// addAnalyzer registers the tool analyzer on m: unicode word segmentation,
// identifier splitting (read_file, readFile, read-file, read.file → read,
// file, plus the whole identifier), lower-casing, English stop words and
// Porter stemming.
func addAnalyzer(m *mapping.IndexMappingImpl) error {
	return m.AddCustomAnalyzer(analyzerName, map[string]interface{}{
		"type":      custom.Name,
		"tokenizer": unicodetok.Name,
		"token_filters": []string{
			identifierFilterName,
			lowercase.Name,
			en.StopName,
			porter.Name,
		},
	})
}

// identifierFilter splits programming identifiers into their words. Unicode
// word segmentation keeps "read_file", "readFile" and "file.txt" whole; this
// filter emits each part ("read", "file") and then the whole identifier, so
// "read file" finds read_file and the exact query "read_file" ranks it
// highest. It must run before lower-casing, which would hide camelCase.
type identifierFilter struct{}

func (identifierFilter) Filter(in analysis.TokenStream) analysis.TokenStream {
	out := make(analysis.TokenStream, 0, len(in))
	pos := 1
	for _, tok := range in {
		parts := splitIdentifier(tok.Term)
		if len(parts) == 0 || len(parts) == 1 && parts[0][1]-parts[0][0] == len(tok.Term) {
			tok.Position = pos
			pos++
			out = append(out, tok)
			continue
		}
		for _, p := range parts {
			out = append(out, &analysis.Token{
				Start:    tok.Start + p[0],
				End:      tok.Start + p[1],
				Term:     tok.Term[p[0]:p[1]],
				Position: pos,
				Type:     tok.Type,
			})
			pos++
		}
		tok.Position = pos
		pos++
		out = append(out, tok)
	}
	return out
}

// splitIdentifier returns the byte ranges of the words of an identifier:
// parts are separated by '_', '-', '.', ':' and '/', and by case changes
// (fooBar → foo|Bar, HTMLParser → HTML|Parser). Letters and digits stay
// together (base64, s3, utf8).
func splitIdentifier(term []byte) [][2]int {
	var parts [][2]int
	start := -1
	var prev rune
	flush := func(end int) {
		if start >= 0 && end > start {
			parts = append(parts, [2]int{start, end})
		}
		start = -1
	}
	for i := 0; i < len(term); {
		r, size := utf8.DecodeRune(term[i:])
		switch {
		case r == '_' || r == '-' || r == '.' || r == ':' || r == '/':
			flush(i)
		case start < 0:
			start = i
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			// fooBar: a new word starts at the capital.
			flush(i)
			start = i
		case unicode.IsLower(r) && unicode.IsUpper(prev) && i-start > utf8.RuneLen(prev):
			// HTMLParser: the last capital of a run starts the next word.
			prevStart := i - utf8.RuneLen(prev)
			flush(prevStart)
			start = prevStart
		}
		prev = r
		i += size
	}
	flush(len(term))
	return parts
}
