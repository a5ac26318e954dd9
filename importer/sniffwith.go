package importer

// SniffWith previews like Sniff with the delimiter the operator chose; 0
// lets Sniff find it.
func SniffWith(head []byte, maxRows int, delimiter rune) (Preview, error) {
	if delimiter == 0 || !ValidDelimiter(delimiter) {
		return Sniff(head, maxRows)
	}
	return sniffAs(head, maxRows, delimiter)
}
