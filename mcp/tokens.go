package mcp

// EstimateTokens approximates how many tokens a model's tokenizer makes of
// text, erring high: the token budget must hold for the real count. BPE
// tokenizers cost about a token per short word or word piece (an
// underscore splits an identifier), a token per digit or two, and less
// than a token per punctuation byte, since JSON's `":"` and `","` are
// single tokens; a space mostly rides on the word after it. The weights
// are fitted against a real tokenizer on the golden tools/list files
// (testdata/golden/*.tokens.json), and TestGoldenTokenCounts checks that
// the estimate never falls below the real count there and stays within a
// quarter above it.
func EstimateTokens(text []byte) int {
	var words, letters, digits, other int
	inWord := false
	for _, c := range text {
		isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		switch {
		case isLetter:
			letters++
			if !inWord {
				words++
			}
		case c >= '0' && c <= '9':
			digits++
		case c != ' ':
			other++
		}
		inWord = isLetter
	}
	cost := words*perWord + letters*perLetter + digits*perDigit + other*perOther
	return (cost + tokenScale - 1) / tokenScale
}

// The weights of EstimateTokens, in 1/tokenScale of a token.
const (
	tokenScale = 100
	perWord    = 65 // each run of letters
	perLetter  = 10 // and each letter in it: long words split
	perDigit   = 100
	perOther   = 40 // punctuation, and each byte of a non-ASCII character
)
