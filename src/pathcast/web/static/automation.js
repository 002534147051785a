/* Rule editor: a "did you mean" button puts its words in place of the underlined span of
   the sentence, then asks htmx for a fresh preview. Spans are offsets in code points (as
   the compiler counts them), so the text is cut as an array of code points. */
(function () {
  "use strict";

  function replaceSpan(textarea, start, end, words) {
    var chars = Array.from(textarea.value);
    if (isNaN(start) || isNaN(end) || start < 0 || end < start || end > chars.length) {
      return false;
    }
    var before = chars.slice(0, start).join("");
    textarea.value = before + words + chars.slice(end).join("");
    var caret = before.length + words.length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-suggestion]") : null;
    if (!button) {
      return;
    }
    var textarea = document.querySelector("textarea[data-rule-text]");
    if (!textarea) {
      return;
    }
    event.preventDefault();
    var start = parseInt(button.getAttribute("data-start"), 10);
    var end = parseInt(button.getAttribute("data-end"), 10);
    if (replaceSpan(textarea, start, end, button.getAttribute("data-suggestion") || "") && window.htmx) {
      window.htmx.trigger(textarea, "keyup");
    }
  });
})();
