// Command wordcount counts word frequencies in one or more files (or stdin)
// and prints the most common words in descending order.
//
// Usage:
//
//	wordcount [-n 20] [-min 1] [file ...]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode"
)

// entry pairs a word with its count for sorting.
type entry struct {
	word  string
	count int
}

// countWords reads r line by line and adds lower-cased words to counts.
// A word is a maximal run of letters, digits or apostrophes.
func countWords(r io.Reader, counts map[string]int) error {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		fields := strings.FieldsFunc(scanner.Text(), func(c rune) bool {
			return !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != '\''
		})
		for _, f := range fields {
			f = strings.Trim(f, "'")
			if f == "" {
				continue
			}
			counts[strings.ToLower(f)]++
		}
	}
	return scanner.Err()
}

// topN returns up to n entries with count >= min, most frequent first.
// Ties are broken alphabetically so output is deterministic.
func topN(counts map[string]int, n, min int) []entry {
	entries := make([]entry, 0, len(counts))
	for w, c := range counts {
		if c >= min {
			entries = append(entries, entry{w, c})
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].count != entries[j].count {
			return entries[i].count > entries[j].count
		}
		return entries[i].word < entries[j].word
	})
	if n > 0 && len(entries) > n {
		entries = entries[:n]
	}
	return entries
}

func main() {
	n := flag.Int("n", 20, "number of words to print (0 = all)")
	min := flag.Int("min", 1, "minimum count to report")
	flag.Parse()

	counts := make(map[string]int)
	if flag.NArg() == 0 {
		if err := countWords(os.Stdin, counts); err != nil {
			fmt.Fprintln(os.Stderr, "wordcount:", err)
			os.Exit(1)
		}
	}
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wordcount:", err)
			os.Exit(1)
		}
		err = countWords(f, counts)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "wordcount: %s: %v\n", path, err)
			os.Exit(1)
		}
	}

	total := 0
	for _, c := range counts {
		total += c
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, e := range topN(counts, *n, *min) {
		share := 100 * float64(e.count) / float64(total)
		fmt.Fprintf(w, "%7d  %5.2f%%  %s\n", e.count, share, e.word)
	}
	fmt.Fprintf(w, "%7d  total words, %d distinct\n", total, len(counts))
}
