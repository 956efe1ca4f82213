//! Text normalisation after decoding: half-width katakana (JIS X 0201, U+FF61–U+FF9F) becomes
//! full-width, with voiced and semi-voiced sound marks composed. Nothing else changes:
//! full-width digits, circled numbers and the full-width hyphen-minus stay as decoded.

use std::borrow::Cow;

/// Full-width forms of U+FF61..=U+FF9F, in order: the mapping of the WHATWG
/// `index-iso-2022-jp-katakana` table (the same one `encoding_rs` applies when it encodes
/// half-width katakana as ISO-2022-JP).
const FULL_WIDTH: [char; 63] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー',
    'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ',
    'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ',
    'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン', '゛', '゜',
];

const HALF_WIDTH_FIRST: u32 = 0xFF61;
const HALF_WIDTH_LAST: u32 = 0xFF9F;
const VOICED_MARK: char = '\u{FF9E}';
const SEMI_VOICED_MARK: char = '\u{FF9F}';

/// The full-width form of a half-width katakana character, if `c` is one.
fn full_width(c: char) -> Option<char> {
    let code = u32::from(c);
    if !(HALF_WIDTH_FIRST..=HALF_WIDTH_LAST).contains(&code) {
        return None;
    }
    usize::try_from(code - HALF_WIDTH_FIRST)
        .ok()
        .and_then(|i| FULL_WIDTH.get(i))
        .copied()
}

/// The voiced form (ガ for カ) of a full-width katakana, if it has one.
fn voiced(c: char) -> Option<char> {
    match c {
        'カ' | 'キ' | 'ク' | 'ケ' | 'コ' | 'サ' | 'シ' | 'ス' | 'セ' | 'ソ' | 'タ' | 'チ'
        | 'ツ' | 'テ' | 'ト' | 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => {
            char::from_u32(u32::from(c) + 1)
        }
        'ウ' => Some('ヴ'),
        'ワ' => Some('ヷ'),
        'ヲ' => Some('ヺ'),
        _ => None,
    }
}

/// The semi-voiced form (パ for ハ) of a full-width katakana, if it has one.
fn semi_voiced(c: char) -> Option<char> {
    match c {
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(u32::from(c) + 2),
        _ => None,
    }
}

/// Whether the text holds a half-width katakana character (UTF-8 `EF BD A1..=BF` or
/// `EF BE 80..=9F`).
fn has_half_width(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == 0xEF && ((w[1] == 0xBD && w[2] >= 0xA1) || (w[1] == 0xBE && w[2] <= 0x9F)))
}

/// Turns half-width katakana into full-width katakana, composing a half-width voiced (ﾞ) or
/// semi-voiced (ﾟ) sound mark with the half-width letter before it (ｶﾞ → ガ, ﾊﾟ → パ, ｳﾞ → ヴ).
/// A mark that does not compose becomes the full-width spacing mark (゛ or ゜). Every other
/// character, full-width katakana included, is left as it is; text without half-width katakana
/// is borrowed.
///
/// # Examples
/// ```
/// use gemj_ssmix2::text::normalize_kana;
/// assert_eq!(normalize_kana("ﾐﾎﾝ ﾊﾅｺ"), "ミホン ハナコ");
/// assert_eq!(normalize_kana("ｶﾞｯｺｳ ﾊﾟﾝ"), "ガッコウ パン");
/// assert_eq!(normalize_kana("４－５－６ ①号室"), "４－５－６ ①号室");
/// assert!(matches!(normalize_kana("シケン"), std::borrow::Cow::Borrowed(_)));
/// ```
#[must_use]
pub fn normalize_kana(s: &str) -> Cow<'_, str> {
    if !has_half_width(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    // The full-width letter written last, when it came from a half-width letter that a
    // following sound mark may still compose with.
    let mut pending: Option<char> = None;
    for c in s.chars() {
        let composed = match (pending, c) {
            (Some(base), VOICED_MARK) => voiced(base),
            (Some(base), SEMI_VOICED_MARK) => semi_voiced(base),
            _ => None,
        };
        if let Some(letter) = composed {
            out.pop();
            out.push(letter);
            pending = None;
            continue;
        }
        match full_width(c) {
            Some(wide) => {
                out.push(wide);
                pending = Some(wide);
            }
            None => {
                out.push(c);
                pending = None;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(normalize_kana(input), expect, "{input:?}");
    }

    #[test]
    fn letters() {
        check("ﾐﾎﾝ", "ミホン");
        check("ﾊﾅｺ", "ハナコ");
        check("ｱｲｳｴｵ", "アイウエオ");
        check("ｧｨｩｪｫｬｭｮｯ", "ァィゥェォャュョッ");
        check("ｦﾝｰ", "ヲンー");
        check("｡｢｣､･", "。「」、・");
        check("ﾜ", "ワ");
    }

    #[test]
    fn sound_marks() {
        check("ｶﾞ", "ガ");
        check("ｷﾞｸﾞｹﾞｺﾞ", "ギグゲゴ");
        check("ｻﾞｼﾞｽﾞｾﾞｿﾞ", "ザジズゼゾ");
        check("ﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞ", "ダヂヅデド");
        check("ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ", "バビブベボ");
        check("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "パピプペポ");
        check("ｳﾞ", "ヴ");
        check("ﾜﾞ", "ヷ");
        check("ｦﾞ", "ヺ");
        check("ｶﾟ", "カ゜");
        check("ｱﾞ", "ア゛");
        check("ﾞ", "゛");
        check("ﾟ", "゜");
        check("ｶﾞﾞ", "ガ゛");
        check("ﾊﾟﾟ", "パ゜");
        check("ｶ ﾞ", "カ ゛");
        check("カﾞ", "カ゛");
        check("ｶ^ﾞ", "カ^゛");
        check("ｼﾞｮｰｼﾞ", "ジョージ");
    }

    #[test]
    fn untouched() {
        check("", "");
        check("ascii 123", "ascii 123");
        check("シケン タロウ", "シケン タロウ");
        check(
            "東京都千代田区見本町４－５－６ ①号室",
            "東京都千代田区見本町４－５－６ ①号室",
        );
        check("１－２－３", "１－２－３");
        check("ＡＢＣ", "ＡＢＣ");
        check("\u{FF60}\u{FFA0}", "\u{FF60}\u{FFA0}");
        check("ｶﾞ東京", "ガ東京");
        check("東京ﾊﾟ", "東京パ");
    }

    #[test]
    fn table_matches_unicode_order() {
        for (i, c) in ('\u{FF61}'..='\u{FF9F}').enumerate() {
            assert_eq!(full_width(c), FULL_WIDTH.get(i).copied());
        }
        assert_eq!(full_width('\u{FF60}'), None);
        assert_eq!(full_width('\u{FFA0}'), None);
    }
}
