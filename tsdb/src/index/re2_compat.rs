//! Makes the Rust regex syntax agree with Go's RE2, which Prometheus uses, where they
//! differ on common input: in Go `\d`, `\s`, `\w` and `\b` are ASCII-only, in Rust they are
//! Unicode-aware. The parsed AST is rewritten before translation so that `\d` means
//! `[0-9]`, `\s` means `[\t\n\f\r ]`, `\w` means `[0-9A-Za-z_]` and `\b`/`\B` test ASCII
//! word characters, wherever they appear (also inside brackets and negated).

use regex_syntax::ast::{
    Assertion, AssertionKind, Ast, ClassBracketed, ClassPerl, ClassPerlKind, ClassSet,
    ClassSetItem, ClassSetRange, ClassSetUnion, Flag, Flags, FlagsItem, FlagsItemKind, Group,
    GroupKind, Literal, LiteralKind, Span,
};

/// Rewrites `ast` in place. Recursion depth is bounded by the parser's nest limit.
pub(crate) fn asciify(ast: &mut Ast) {
    match ast {
        Ast::ClassPerl(p) => {
            let replacement = Ast::class_bracketed(ClassBracketed {
                span: p.span,
                negated: p.negated,
                kind: ClassSet::Item(ascii_union(p)),
            });
            *ast = replacement;
        }
        Ast::Assertion(a)
            if matches!(
                a.kind,
                AssertionKind::WordBoundary | AssertionKind::NotWordBoundary
            ) =>
        {
            let replacement = without_unicode(Assertion {
                span: a.span,
                kind: a.kind.clone(),
            });
            *ast = replacement;
        }
        Ast::ClassBracketed(b) => asciify_set(&mut b.kind),
        Ast::Repetition(r) => asciify(&mut r.ast),
        Ast::Group(g) => asciify(&mut g.ast),
        Ast::Alternation(a) => a.asts.iter_mut().for_each(asciify),
        Ast::Concat(c) => c.asts.iter_mut().for_each(asciify),
        _ => {}
    }
}

fn asciify_set(set: &mut ClassSet) {
    match set {
        ClassSet::Item(item) => asciify_item(item),
        ClassSet::BinaryOp(op) => {
            asciify_set(&mut op.lhs);
            asciify_set(&mut op.rhs);
        }
    }
}

fn asciify_item(item: &mut ClassSetItem) {
    match item {
        ClassSetItem::Perl(p) => {
            let union = ascii_union(p);
            // A negated class inside brackets becomes a nested negated bracket: `[^...]`.
            *item = if p.negated {
                ClassSetItem::Bracketed(Box::new(ClassBracketed {
                    span: p.span,
                    negated: true,
                    kind: ClassSet::Item(union),
                }))
            } else {
                union
            };
        }
        ClassSetItem::Bracketed(b) => asciify_set(&mut b.kind),
        ClassSetItem::Union(u) => u.items.iter_mut().for_each(asciify_item),
        _ => {}
    }
}

/// The characters of a Perl class in Go's RE2, as a union of ranges (negation not applied).
fn ascii_union(p: &ClassPerl) -> ClassSetItem {
    let ranges: &[(char, char)] = match p.kind {
        ClassPerlKind::Digit => &[('0', '9')],
        ClassPerlKind::Space => &[('\t', '\n'), ('\x0C', '\r'), (' ', ' ')],
        ClassPerlKind::Word => &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')],
    };
    let lit = |c: char| Literal {
        span: p.span,
        kind: LiteralKind::Verbatim,
        c,
    };
    ClassSetItem::Union(ClassSetUnion {
        span: p.span,
        items: ranges
            .iter()
            .map(|&(lo, hi)| {
                ClassSetItem::Range(ClassSetRange {
                    span: p.span,
                    start: lit(lo),
                    end: lit(hi),
                })
            })
            .collect(),
    })
}

/// `(?-u:assertion)`: the translator then emits the ASCII form of the word boundary.
fn without_unicode(a: Assertion) -> Ast {
    let span: Span = a.span;
    Ast::group(Group {
        span,
        kind: GroupKind::NonCapturing(Flags {
            span,
            items: vec![
                FlagsItem {
                    span,
                    kind: FlagsItemKind::Negation,
                },
                FlagsItem {
                    span,
                    kind: FlagsItemKind::Flag(Flag::Unicode),
                },
            ],
        }),
        ast: Box::new(Ast::assertion(a)),
    })
}
