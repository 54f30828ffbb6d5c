// The console's template editor: each textarea marked data-code becomes a CodeMirror 6 editor with the
// template's syntax highlighted (Jinja over HTML, or Handlebars) and the line of a compile error marked.
// The textarea stays in the form, kept in step, so htmx posts it as before; no inline script is needed.
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { jinja } from "@codemirror/lang-jinja";
import { bracketMatching, defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, StateEffect, StateField } from "@codemirror/state";
import {
  Decoration,
  EditorView,
  highlightActiveLine,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import { handlebarsLanguage } from "./handlebars.js";

const setErrorLine = StateEffect.define();

const errorLine = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    marks = marks.map(tr.changes);
    for (const effect of tr.effects) {
      if (!effect.is(setErrorLine)) continue;
      const { line, message } = effect.value || {};
      if (!line || line > tr.state.doc.lines) return Decoration.none;
      const at = tr.state.doc.line(line).from;
      const mark = Decoration.line({
        class: "cm-error-line",
        attributes: { title: message || "", "data-error-line": String(line) },
      });
      return Decoration.set([mark.range(at)]);
    }
    return marks;
  },
  provide: (field) => EditorView.decorations.from(field),
});

const theme = EditorView.theme({
  "&": { border: "1px solid #c5ccd8", borderRadius: "4px", background: "#fff", fontSize: ".88rem" },
  "&.cm-focused": { outline: "2px solid #2f5fd0", outlineOffset: "-1px" },
  ".cm-content": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace", minHeight: "2.2rem" },
  ".cm-scroller": { maxHeight: "24rem" },
  ".cm-gutters": { background: "#f3f5f8", color: "#667085", border: "none" },
  ".cm-error-line": { background: "#fee4e2", boxShadow: "inset 3px 0 0 #b42318" },
});

function language(syntax) {
  return syntax === "handlebars" ? handlebarsLanguage : jinja();
}

const editors = new Map(); // field key → { view, compartment }

function enhance(textarea, syntax) {
  const compartment = new Compartment();
  const label = document.querySelector(`label[for="${textarea.id}"]`);
  const view = new EditorView({
    parent: textarea.parentNode,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(),
        history(),
        bracketMatching(),
        highlightActiveLine(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        compartment.of(language(syntax)),
        errorLine,
        theme,
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({
          "aria-label": label ? label.textContent : textarea.name,
          "aria-describedby": `error-${textarea.id}`,
          "aria-multiline": "true",
        }),
        EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          textarea.value = update.state.doc.toString();
          // the form's hx-trigger listens for input: the preview follows the typing as before
          textarea.dispatchEvent(new Event("input", { bubbles: true }));
        }),
      ],
    }),
  });
  textarea.after(view.dom);
  textarea.hidden = true;
  view.dom.dataset.editorFor = textarea.id;
  if (label) label.addEventListener("click", () => view.focus());
  editors.set(textarea.id, { view, compartment });
}

function markErrors() {
  for (const [key, { view }] of editors) {
    const error = document.getElementById(`error-${key}`);
    const line = error && error.dataset.line ? Number(error.dataset.line) : null;
    const current = view.dom.querySelector("[data-error-line]");
    if ((current ? Number(current.dataset.errorLine) : null) === line) continue;
    view.dispatch({ effects: setErrorLine.of(line ? { line, message: error.textContent } : null) });
  }
}

function start() {
  const form = document.getElementById("editor");
  if (!form) return;
  const select = document.getElementById("syntax");
  const syntax = () => (select ? select.value : "jinja");
  for (const textarea of form.querySelectorAll("textarea[data-code]")) enhance(textarea, syntax());
  if (select) {
    select.addEventListener("change", () => {
      for (const { view, compartment } of editors.values()) {
        view.dispatch({ effects: compartment.reconfigure(language(syntax())) });
      }
    });
  }
  // htmx swaps the errors in next to their fields (out of band): mark their lines when they change
  new MutationObserver(markErrors).observe(form, { childList: true, subtree: true, attributes: true });
  markErrors();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
