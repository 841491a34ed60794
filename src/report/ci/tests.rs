use super::*;

#[test]
fn github_escaping_follows_the_toolkit() {
    assert_eq!(github_data("100%\r\nnext"), "100%25%0D%0Anext");
    assert_eq!(github_property("a,b:c%"), "a%2Cb%3Ac%25");
}

#[test]
fn xml_text_escapes_markup_and_makes_control_characters_visible() {
    assert_eq!(
        xml_text("<a href=\"x\">&'"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
    );
    assert_eq!(xml_text("bell\u{7}"), "bell\\u{7}");
}

#[test]
fn markdown_text_leaves_no_markup() {
    let t = markdown_text("| *x* [a](javascript:alert(1)) <img> `c` #h");
    // What is left once the entities are taken out has no markup character.
    let mut bare = String::new();
    let mut rest = t.as_str();
    while let Some(at) = rest.find('&') {
        bare.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("entities end with ;");
        rest = &rest[at + end + 1..];
    }
    bare.push_str(rest);
    for c in ['|', '*', '[', ']', '(', ')', '<', '>', '`', '#', ':'] {
        assert!(!bare.contains(c), "{c} in {t}");
    }
}
