package dag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// positions maps a JSON path ("steps[2].inputs[0].source") to the byte
// offset where its value starts, so problems can name line and column.
type positions struct {
	src  []byte
	offs map[string]int
	// dups lists paths of keys repeated within one object (the decoder
	// silently keeps the last one, so the author's first value is lost).
	dups []string
}

// indexPositions walks the document's tokens once. It assumes data is
// valid JSON (the caller has already decoded it).
func indexPositions(data []byte) positions {
	p := positions{src: data, offs: map[string]int{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	_ = p.walk(dec, "")
	return p
}

func (p *positions) valueStart(from int) int {
	i := from
	for i < len(p.src) {
		switch p.src[i] {
		case ' ', '\t', '\r', '\n', ':', ',':
			i++
		default:
			return i
		}
	}
	return i
}

func (p *positions) walk(dec *json.Decoder, path string) error {
	start := p.valueStart(int(dec.InputOffset()))
	p.offs[path] = start
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			child := key
			if path != "" {
				child = path + "." + key
			}
			if seen[key] {
				p.dups = append(p.dups, child)
			}
			seen[key] = true
			if err := p.walk(dec, child); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := p.walk(dec, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // closing delimiter
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// lineCol converts a byte offset to 1-based line and column.
func lineCol(src []byte, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	line, col := 1, 1
	for _, b := range src[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// at returns line and column for path, falling back to the nearest
// ancestor that has a position (a missing key points at its object).
func (p positions) at(path string) (int, int) {
	if p.offs == nil {
		return 0, 0
	}
	for {
		if off, ok := p.offs[path]; ok {
			return lineCol(p.src, off)
		}
		if path == "" {
			return 0, 0
		}
		path = parentPath(path)
	}
}

func parentPath(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		switch path[i] {
		case '.':
			return path[:i]
		case '[':
			return path[:i]
		}
	}
	return ""
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return fmt.Sprintf("%s[%d]", parent, i)
}
