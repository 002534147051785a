"""The intent language: plain Chinese or English sentences → the typed rule IR.

    from pathcast.automation.language import build_vocabulary, compile_rule, CompileError
    vocabulary = build_vocabulary(session)
    result = compile_rule("商机赢单后，通知负责人", "zh", vocabulary)
    result.ir, result.readback_zh, result.readback_en, result.warnings

Pipeline: ``lexer`` (normalise, numbers, jieba, longest match against the vocabulary) →
``rewrite`` (context retyping) → ``parser`` (LALR grammar in ``grammar.lark``) →
``compiler``/``steps`` (meaning, people, errors) → ``readback``.
"""

from pathcast.automation.language.compiler import CompileResult, compile_rule
from pathcast.automation.language.errors import CompileError
from pathcast.automation.language.readback import readback
from pathcast.automation.language.vocabulary import Vocabulary, build_vocabulary


def warm_up(vocabulary: Vocabulary | None = None) -> None:
    """Load jieba's dictionary (about a second, once per process), build the parser and the
    lexer tables of ``vocabulary``, so that the first real compile is fast too."""
    from pathcast.automation.language.lexer import SEGMENTER, lexicon_for
    from pathcast.automation.language.parser import _parser

    SEGMENTER.cut("预热")
    _parser()
    if vocabulary is not None:
        for lang in ("zh", "en"):
            lexicon_for(vocabulary, lang)


__all__ = [
    "CompileError",
    "CompileResult",
    "Vocabulary",
    "build_vocabulary",
    "compile_rule",
    "readback",
    "warm_up",
]
