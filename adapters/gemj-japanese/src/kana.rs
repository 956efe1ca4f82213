//! Half-width katakana (JIS X 0201, U+FF61..U+FF9F) to full-width katakana.
//!
//! Hospital systems of the Shift_JIS era still write kana names in half width (`ﾐﾎﾝ^ﾊﾅｺ`); the
//! canonical form is full width (`ミホン ハナコ`). A voiced or semi-voiced sound mark that follows
//! a kana it can combine with becomes one precomposed character (`ｶﾞ` → `ガ`, `ﾊﾟ` → `パ`,
//! `ｳﾞ` → `ヴ`); on its own it becomes the spacing mark (`゛`, `゜`). Every other character is
//! left as it is.

use std::borrow::Cow;

/// Full-width forms of U+FF61..=U+FF9D, in code point order.
const FULL: [char; 61] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー',
    'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ',
    'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ',
    'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

const VOICED_MARK: char = '\u{FF9E}';
const SEMI_VOICED_MARK: char = '\u{FF9F}';

/// Converts half-width katakana to full width; borrows the input when it has none.
///
/// # Examples
/// ```
/// use gemj_japanese::kana::to_full_width;
/// assert_eq!(to_full_width("ﾐﾎﾝ^ﾊﾅｺ"), "ミホン^ハナコ");
/// assert_eq!(to_full_width("ｶﾞｯｺｳ ﾊﾟﾝ ｳﾞｧ"), "ガッコウ パン ヴァ");
/// assert_eq!(to_full_width("試験 太郎"), "試験 太郎");
/// ```
#[must_use]
pub fn to_full_width(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_half_width_kana) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let Some(full) = full_width(c) else {
            out.push(c);
            continue;
        };
        let combined = match chars.peek() {
            Some(&VOICED_MARK) => voiced(full),
            Some(&SEMI_VOICED_MARK) => semi_voiced(full),
            _ => None,
        };
        if let Some(combined) = combined {
            chars.next();
            out.push(combined);
        } else {
            out.push(full);
        }
    }
    Cow::Owned(out)
}

/// Whether `c` is a half-width katakana or half-width CJK punctuation character.
#[must_use]
pub fn is_half_width_kana(c: char) -> bool {
    ('\u{FF61}'..='\u{FF9F}').contains(&c)
}

fn full_width(c: char) -> Option<char> {
    match c {
        VOICED_MARK => Some('゛'),
        SEMI_VOICED_MARK => Some('゜'),
        _ => {
            let offset = u32::from(c).checked_sub(0xFF61)?;
            FULL.get(usize::try_from(offset).ok()?).copied()
        }
    }
}

fn voiced(c: char) -> Option<char> {
    let code = u32::from(c);
    let shifted = match c {
        'ウ' => 'ヴ',
        'ワ' => 'ヷ',
        'ヲ' => 'ヺ',
        'カ' | 'キ' | 'ク' | 'ケ' | 'コ' | 'サ' | 'シ' | 'ス' | 'セ' | 'ソ' | 'タ' | 'チ'
        | 'ツ' | 'テ' | 'ト' | 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => {
            char::from_u32(code + 1)?
        }
        _ => return None,
    };
    Some(shifted)
}

fn semi_voiced(c: char) -> Option<char> {
    match c {
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(u32::from(c) + 2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(to_full_width(input), expect, "{input:?}");
    }

    #[test]
    fn conversions() {
        check("ﾐﾎﾝ", "ミホン");
        check("ﾊﾅｺ", "ハナコ");
        check("ｼｹﾝ ﾀﾛｳ", "シケン タロウ");
        check("ｶﾞｷﾞｸﾞｹﾞｺﾞ", "ガギグゲゴ");
        check("ｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞ", "ザジズゼゾダヂヅデド");
        check("ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ", "バビブベボ");
        check("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "パピプペポ");
        check("ｳﾞ", "ヴ");
        check("ﾜﾞｦﾞ", "ヷヺ");
        check("ｱﾞ", "ア゛");
        check("ﾞ", "゛");
        check("ｶﾟ", "カ゜");
        check("ｧｨｩｪｫｬｭｮｯｰ", "ァィゥェォャュョッー");
        check("｡｢｣､･", "。「」、・");
        check("", "");
        check("ABC 123", "ABC 123");
        check("ミホン", "ミホン");
        check("東京都①ｰ", "東京都①ー");
    }

    #[test]
    fn table_matches_unicode_order() {
        // The WHATWG `index-iso-2022-jp-katakana` mapping of U+FF61..=U+FF9F (the one
        // `encoding_rs` applies when it encodes half-width katakana as ISO-2022-JP), in order.
        const WHATWG: [char; 63] = [
            '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ',
            'ッ', 'ー', 'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ',
            'ス', 'セ', 'ソ', 'タ', 'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ',
            'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ', 'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ',
            'ル', 'レ', 'ロ', 'ワ', 'ン', '゛', '゜',
        ];
        for (i, c) in ('\u{FF61}'..='\u{FF9F}').enumerate() {
            assert_eq!(full_width(c), WHATWG.get(i).copied());
        }
        assert_eq!(full_width('\u{FF60}'), None);
        assert_eq!(full_width('\u{FFA0}'), None);
    }

    #[test]
    fn borrows_when_unchanged() {
        assert!(matches!(to_full_width("試験"), Cow::Borrowed(_)));
        assert!(matches!(to_full_width("ｼ"), Cow::Owned(_)));
    }
}
