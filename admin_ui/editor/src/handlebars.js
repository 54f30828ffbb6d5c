// A Handlebars tokenizer for CodeMirror's StreamLanguage: mustache tags (with their helpers, paths,
// strings, numbers, hash keys and comments) and, around them, HTML tags and entities for HTML fields.
import { StreamLanguage } from "@codemirror/language";

const KEYWORDS = new Set(["if", "unless", "each", "with", "else", "this", "as", "lookup", "log"]);

function inTag(stream, state) {
  if (state.comment) {
    const end = state.comment === "long" ? "--}}" : "}}";
    if (stream.skipTo(end)) {
      stream.match(end);
      state.comment = null;
      state.tag = null;
    } else {
      stream.skipToEnd();
    }
    return "comment";
  }
  if (stream.eatSpace()) return null;
  if (stream.match(state.tag === "raw" ? /^~?\}\}\}/ : /^~?\}\}/)) {
    state.tag = null;
    return "brace";
  }
  if (stream.match(/^"(?:[^"\\]|\\.)*"?/) || stream.match(/^'(?:[^'\\]|\\.)*'?/)) return "string";
  if (stream.match(/^-?\d+(\.\d+)?/)) return "number";
  if (stream.match(/^(true|false|null|undefined)\b/)) return "atom";
  if (stream.match(/^@[\w-]+/)) return "variableName.special";
  if (stream.match(/^[#/^]/) || stream.match(/^[()|=]/)) return "operator";
  if (stream.match(/^[\w$-]+(?==)/)) return "propertyName";
  const word = stream.match(/^[\w$-]+/);
  if (word) return KEYWORDS.has(word[0]) ? "keyword" : "variableName";
  if (stream.match(/^\.\.?\/?/) || stream.match(/^[.[\]]/)) return "punctuation";
  stream.next();
  return "invalid";
}

function inHtml(stream) {
  if (stream.match(/^<\/?[A-Za-z][\w:-]*/)) return "tagName";
  if (stream.match(/^\/?>/)) return "angleBracket";
  if (stream.match(/^&(#\d+|#x[0-9a-fA-F]+|\w+);/)) return "character";
  stream.next();
  return null;
}

export const handlebarsLanguage = StreamLanguage.define({
  name: "handlebars",
  startState: () => ({ tag: null, comment: null, html: false }),
  token(stream, state) {
    if (state.tag) return inTag(stream, state);
    if (stream.match(/^\{\{!--/)) {
      state.tag = "comment";
      state.comment = "long";
      return "comment";
    }
    if (stream.match(/^\{\{!/)) {
      state.tag = "comment";
      state.comment = "short";
      return "comment";
    }
    if (stream.match(/^\{\{\{~?/)) {
      state.tag = "raw";
      return "brace";
    }
    if (stream.match(/^\{\{~?/)) {
      state.tag = "mustache";
      return "brace";
    }
    if (stream.peek() === "<" || stream.peek() === "&" || stream.peek() === ">") return inHtml(stream);
    if (!stream.skipTo("{{") && !stream.skipTo("<")) stream.skipToEnd();
    else if (stream.pos === stream.start) stream.next();
    return null;
  },
  languageData: { commentTokens: { block: { open: "{{!--", close: "--}}" } } },
});
