package mcp

// EstimateTokens approximates how many tokens a model's tokenizer makes of
// text, erring high: the token budget must hold for the real count. It
// counts JSON punctuation, which tokenizers split finely, apart from words
// and digits, which they pack several bytes to a token; the weights are
// fitted against a real tokenizer on the golden tools/list files
// (testdata/golden/*.tokens.json), and TestEstimateTokens checks that the
// estimate never falls below the real count there and stays close to it.
func EstimateTokens(text []byte) int {
	var punct, other int
	for _, c := range text {
		switch c {
		case '{', '}', '[', ']', '"', ':', ',', '\\':
			punct++
		default:
			other++
		}
	}
	return (punct*punctWeight + other*otherWeight + tokenScale - 1) / tokenScale
}

// The weights of EstimateTokens, in 1/tokenScale of a token per byte.
const (
	tokenScale  = 1000
	punctWeight = 400
	otherWeight = 250
)
