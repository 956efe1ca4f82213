//! Text normalisation after decoding: half-width katakana (JIS X 0201, U+FF61–U+FF9F) becomes
//! full-width, with voiced and semi-voiced sound marks composed. Nothing else changes:
//! full-width digits, circled numbers and the full-width hyphen-minus stay as decoded. The
//! conversion is [`gemj_japanese::kana::to_full_width`].

use std::borrow::Cow;

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
    gemj_japanese::kana::to_full_width(s)
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
}
