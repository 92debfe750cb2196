package index_test

import (
	"fmt"

	"github.com/mcpproxy/mcpproxy/internal/index"
)

func ExampleIndex_Search() {
	ix, err := index.New()
	if err != nil {
		panic(err)
	}
	defer ix.Close()
	_ = ix.Apply(map[string][]index.Tool{"filesystem": []index.Tool{
		{Name: "read_file", Description: "Read the complete contents of a file."},
		{Name: "write_file", Description: "Create or overwrite a file."},
		{Name: "list_directory", Description: "List the entries of a directory."},
	}})
	hits, _ := ix.Search("read file", 10)
	for _, h := range hits {
		fmt.Println(h.Server + ":" + h.Name)
	}
	// Output:
	// filesystem:read_file
	// filesystem:write_file
}
