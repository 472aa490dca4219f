// Test-only module: its parent declares it `#[cfg(test)] mod tests;`, so unwrap/expect here never reach a build.
extern crate std;
use std::boxed::Box;
use std::string::String;
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::Error;

/// A GENERATE AC answer (format 2): 77 template with CID, ATC, AC and IAD.
const GEN_AC: &[u8] = &[
    0x77, 0x1E, // template, 30 bytes
    0x9F, 0x27, 0x01, 0x80, // CID: ARQC
    0x9F, 0x36, 0x02, 0x00, 0x2A, // ATC 42
    0x9F, 0x26, 0x08, 0xC2, 0xC1, 0x2B, 0x09, 0x8F, 0x3D, 0xA6, 0xE3, // AC
    0x9F, 0x10, 0x07, 0x06, 0x01, 0x0A, 0x03, 0xA0, 0x00, 0x00, // IAD
];

fn collect(data: &[u8]) -> Vec<(usize, u32, Vec<u8>)> {
    let mut out = Vec::new();
    walk(data, &mut |t| {
        out.push((t.depth(), t.tag.value(), t.value.to_vec()));
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn parses_a_template_byte_exact() {
    let top: Vec<_> = parse(GEN_AC).collect::<Result<_, _>>().unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].tag, Tag::RESPONSE_TEMPLATE_2);
    assert!(top[0].is_constructed());
    assert_eq!(top[0].value.len(), 30);
    let kids: Vec<_> = top[0]
        .children()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let tags: Vec<u32> = kids.iter().map(|t| t.tag.value()).collect();
    assert_eq!(tags, [0x9F27, 0x9F36, 0x9F26, 0x9F10]);
    assert_eq!(kids[1].value, [0x00, 0x2A]);
    assert_eq!(kids[1].depth(), 1);
    assert_eq!(
        find(GEN_AC, Tag::AC).unwrap(),
        Some(&[0xC2, 0xC1, 0x2B, 0x09, 0x8F, 0x3D, 0xA6, 0xE3][..])
    );
    assert_eq!(find(GEN_AC, Tag::TVR).unwrap(), None);
}

#[test]
fn emits_the_same_template_byte_exact() {
    let ac = [0xC2, 0xC1, 0x2B, 0x09, 0x8F, 0x3D, 0xA6, 0xE3];
    let iad = [0x06, 0x01, 0x0A, 0x03, 0xA0, 0x00, 0x00];
    let children = [
        Node::Primitive {
            tag: Tag::CID,
            value: &[0x80],
        },
        Node::Primitive {
            tag: Tag::ATC,
            value: &[0x00, 0x2A],
        },
        Node::Primitive {
            tag: Tag::AC,
            value: &ac,
        },
        Node::Primitive {
            tag: Tag::IAD,
            value: &iad,
        },
    ];
    let tree = [Node::Constructed {
        tag: Tag::RESPONSE_TEMPLATE_2,
        children: &children,
    }];
    assert_eq!(encoded_len(&tree).unwrap(), GEN_AC.len());
    let mut buf = [0u8; 64];
    let n = emit(&tree, &mut buf).unwrap();
    assert_eq!(&buf[..n], GEN_AC);
}

#[test]
fn long_form_lengths_both_ways() {
    // (value length, expected header after the one-byte tag C1)
    let table: &[(usize, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x81, 0x80]),
        (200, &[0x81, 0xC8]),
        (255, &[0x81, 0xFF]),
        (256, &[0x82, 0x01, 0x00]),
        (300, &[0x82, 0x01, 0x2C]),
        (70_000, &[0x83, 0x01, 0x11, 0x70]),
    ];
    for &(len, header) in table {
        let value = vec![0xAB; len];
        let mut buf = vec![0u8; len + 8];
        let n = emit_primitive(Tag::new(0xC1).unwrap(), &value, &mut buf).unwrap();
        assert_eq!(buf[0], 0xC1);
        assert_eq!(&buf[1..1 + header.len()], header, "len {len}");
        assert_eq!(n, 1 + header.len() + len);
        let t = parse(&buf[..n]).next().unwrap().unwrap();
        assert_eq!(t.value.len(), len);
    }
    // Non-minimal long forms and 84 are accepted on parse.
    let t = parse(&[0x95, 0x81, 0x02, 1, 2]).next().unwrap().unwrap();
    assert_eq!(t.value, [1, 2]);
    let t = parse(&[0x95, 0x84, 0, 0, 0, 1, 9]).next().unwrap().unwrap();
    assert_eq!(t.value, [9]);
}

#[test]
fn multi_byte_tags() {
    for (bytes, value) in [
        (&[0x9F, 0x26][..], 0x9F26u32),
        (&[0xBF, 0x0C][..], 0xBF0C),
        (&[0xDF, 0x81, 0x29][..], 0xDF8129),
        (&[0x5F, 0x81, 0x82, 0x03][..], 0x5F818203),
    ] {
        let tag = Tag::from_bytes(bytes).unwrap();
        assert_eq!(tag.value(), value);
        assert_eq!(tag.len(), bytes.len());
        let mut data = bytes.to_vec();
        data.extend_from_slice(&[0x01, 0x77]);
        let t = parse(&data).next().unwrap().unwrap();
        assert_eq!((t.tag, t.value), (tag, &[0x77][..]));
    }
    assert_eq!(Tag::new(0x1F), None, "1F needs a following byte");
    assert_eq!(Tag::new(0x9526), None, "95 is a one-byte tag");
    assert_eq!(Tag::new(0x9F86), None, "last byte must have bit 8 clear");
    assert_eq!(Tag::new(0), None);
    assert_eq!(std::format!("{}", Tag::AC), "9F26");
    assert!(Tag::new(0xBF0C).unwrap().is_constructed());
    assert!(!Tag::AC.is_constructed());
}

#[test]
fn malformed_input_is_a_typed_error() {
    let cases: &[(&[u8], Error)] = &[
        (&[0x9F], Error::Truncated { what: "tlv tag" }),
        (&[0x9F, 0x81, 0x82, 0x83, 0x04, 0x00], Error::TlvMalformed),
        (&[0x95], Error::Truncated { what: "tlv length" }),
        (&[0x95, 0x80], Error::TlvMalformed),
        (&[0x95, 0x85, 0, 0, 0, 0, 1], Error::TlvMalformed),
        (&[0x95, 0x82, 0x01], Error::Truncated { what: "tlv length" }),
        (&[0x95, 0x05, 1, 2], Error::Truncated { what: "tlv value" }),
        // A template whose content is not TLV.
        (
            &[0x70, 0x02, 0x9F, 0x26],
            Error::Truncated { what: "tlv length" },
        ),
    ];
    for (data, err) in cases {
        assert_eq!(validate(data), Err(*err), "{data:02X?}");
    }
    // The iterator yields the error once and then stops.
    let mut it = parse(&[0x95, 0x01, 0x00, 0x9F]);
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

#[test]
fn padding_is_skipped() {
    let data = [0x00, 0x00, 0x95, 0x01, 0x11, 0x00, 0x9B, 0x01, 0x22, 0x00];
    assert_eq!(
        collect(&data),
        [(0, 0x95, vec![0x11]), (0, 0x9B, vec![0x22])]
    );
    let mut buf = [0u8; 16];
    let n = normalize(&data, &mut buf).unwrap();
    assert_eq!(&buf[..n], [0x95, 0x01, 0x11, 0x9B, 0x01, 0x22]);
}

fn nested(depth: usize) -> Vec<u8> {
    let mut data = vec![0x95, 0x01, 0x00];
    for _ in 0..depth {
        let mut outer = vec![0x70, data.len() as u8];
        outer.extend_from_slice(&data);
        data = outer;
    }
    data
}

#[test]
fn depth_limit_both_ways() {
    // MAX_DEPTH - 1 templates put the primitive at depth MAX_DEPTH - 1: allowed.
    assert_eq!(validate(&nested(MAX_DEPTH - 1)), Ok(()));
    assert_eq!(validate(&nested(MAX_DEPTH)), Err(Error::TlvTooDeep));
    assert_eq!(find(&nested(MAX_DEPTH - 1), Tag::TVR), Ok(Some(&[0u8][..])));
    assert_eq!(find(&nested(MAX_DEPTH), Tag::TVR), Err(Error::TlvTooDeep));

    let leaf = [Node::Primitive {
        tag: Tag::TVR,
        value: &[0],
    }];
    let mut level: &'static [Node<'static>] = Box::leak(Box::new(leaf));
    for _ in 0..MAX_DEPTH - 1 {
        level = Box::leak(Box::new([Node::Constructed {
            tag: Tag::RECORD_TEMPLATE,
            children: level,
        }]));
    }
    let mut buf = [0u8; 64];
    let n = emit(level, &mut buf).unwrap();
    assert_eq!(&buf[..n], &nested(MAX_DEPTH - 1)[..]);
    let deeper = [Node::Constructed {
        tag: Tag::RECORD_TEMPLATE,
        children: level,
    }];
    assert_eq!(emit(&deeper, &mut buf), Err(Error::TlvTooDeep));
}

#[test]
fn small_buffer_is_untouched() {
    let mut buf = [0x55u8; 31];
    assert_eq!(
        normalize(GEN_AC, &mut buf),
        Err(Error::BufferTooSmall { needed: 32 })
    );
    assert_eq!(buf, [0x55; 31]);
    let mut buf = [0x55u8; 4];
    assert_eq!(
        emit_primitive(Tag::AC, &[1, 2, 3], &mut buf),
        Err(Error::BufferTooSmall { needed: 6 })
    );
    assert_eq!(buf, [0x55; 4]);
}

/// Card data as a terminal collects it: record template with PAN, track 2 and label, plus
/// the GENERATE AC answer and terminal data.
fn card_data() -> Vec<u8> {
    let mut d = vec![
        0x70, 0x1E, // record template, 30 bytes
        0x5A, 0x08, 0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19, // PAN
        0x57, 0x0C, 0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19, 0xD2, 0x91, 0x22,
        0x01, // track 2
        0x50, 0x04, b'V', b'I', b'S', b'A', // label
    ];
    d.extend_from_slice(GEN_AC);
    d.extend_from_slice(&[
        0x4F, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10, // AID
        0x95, 0x05, 0x00, 0x00, 0x00, 0x80, 0x00, // TVR
        0x9B, 0x02, 0xE8, 0x00, // TSI
        0x8A, 0x02, b'0', b'0', // ARC
        0x9F, 0x34, 0x03, 0x1F, 0x03, 0x02, // CVM results
        0x9F, 0x06, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10, // terminal AID
    ]);
    d
}

#[test]
fn receipt_tags_in_one_pass() {
    let data = card_data();
    let t = ReceiptTags::from_tlv(&data).unwrap();
    assert_eq!(t.aid, Some(&[0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10][..]));
    assert_eq!(t.label_text(), Some("VISA"));
    assert_eq!(t.tvr, Some(&[0, 0, 0, 0x80, 0][..]));
    assert_eq!(t.tsi, Some(&[0xE8, 0][..]));
    assert_eq!(t.arc_text(), Some("00"));
    assert_eq!(t.atc_value(), Some(42));
    assert_eq!(t.ac.map(<[u8]>::len), Some(8));
    assert_eq!(t.cid, Some(&[0x80][..]));
    assert_eq!(t.iad.map(<[u8]>::len), Some(7));
    assert_eq!(t.cvm_results, Some(&[0x1F, 0x03, 0x02][..]));
    assert_eq!(t.preferred_name, None);
    // 9F06 stands in for a missing 4F.
    let only_terminal = [0x9F, 0x06, 0x02, 0xA0, 0x01];
    assert_eq!(
        ReceiptTags::from_tlv(&only_terminal).unwrap().aid,
        Some(&[0xA0, 0x01][..])
    );
    assert!(ReceiptTags::from_tlv(&[0x9F]).is_err());
}

#[test]
fn pretty_printer_masks_card_data() {
    let data = card_data();
    let mut s = String::new();
    write_pretty(&data, &mut s).unwrap();
    let expected = "\
70 Record Template:
  5A Application PAN: 476173******0119
  57 Track 2 Equivalent Data: 476173******0119 (track data hidden)
  50 Application Label: VISA
77 Response Message Template Format 2:
  9F27 Cryptogram Information Data: 80
  9F36 Application Transaction Counter: 002A
  9F26 Application Cryptogram: C2C12B098F3DA6E3
  9F10 Issuer Application Data: 06010A03A00000
4F Application Identifier (card): A0000000031010
95 Terminal Verification Results: 0000008000
9B Transaction Status Information: E800
8A Authorisation Response Code: 3030
9F34 CVM Results: 1F0302
9F06 Application Identifier (terminal): A0000000041010
";
    assert_eq!(s, expected);
    assert!(!s.contains("4761739001010119"));
    let mut s = String::new();
    write_pretty(&[0x56, 0x03, 1, 2, 3, 0xDF, 0x01, 0x01, 0xAA], &mut s).unwrap();
    assert_eq!(s, "56 Track 1 Data: (3 bytes hidden)\nDF01: AA\n");
}

#[test]
fn masked_hex_stars_card_data_only() {
    let data = card_data();
    let text = std::format!("{}", MaskedHex(&data));
    assert!(
        text.starts_with("701E5A08****************570C************************5004"),
        "{text}"
    );
    assert!(text.contains("9F2608C2C12B098F3DA6E3"));
    assert_eq!(text.len(), data.len() * 2);
    assert!(!text.contains("4761739001010119"));
    // Malformed: what follows the fault is hidden.
    let mut bad = data.clone();
    bad.extend_from_slice(&[0x5A, 0x09, 0x47, 0x61]);
    let text = std::format!("{}", MaskedHex(&bad));
    assert!(
        text.ends_with("9F0607A0000000041010…(4 bytes hidden)"),
        "{text}"
    );
    assert_eq!(std::format!("{}", MaskedHex(&[0x95, 0x01, 0xAB])), "9501AB");
}

/// An owned tree for property tests.
#[derive(Clone, Debug)]
enum Owned {
    Prim(Tag, Vec<u8>),
    Cons(Tag, Vec<Owned>),
}

fn leak(tree: &[Owned]) -> &'static [Node<'static>] {
    let nodes: Vec<Node<'static>> = tree
        .iter()
        .map(|o| match o {
            Owned::Prim(tag, v) => Node::Primitive {
                tag: *tag,
                value: Box::leak(v.clone().into_boxed_slice()),
            },
            Owned::Cons(tag, kids) => Node::Constructed {
                tag: *tag,
                children: leak(kids),
            },
        })
        .collect();
    Box::leak(nodes.into_boxed_slice())
}

fn flatten(tree: &[Owned], depth: usize, out: &mut Vec<(usize, u32, Option<Vec<u8>>)>) {
    for o in tree {
        match o {
            Owned::Prim(t, v) => out.push((depth, t.value(), Some(v.clone()))),
            Owned::Cons(t, kids) => {
                out.push((depth, t.value(), None));
                flatten(kids, depth + 1, out);
            }
        }
    }
}

fn any_tag(constructed: bool) -> impl Strategy<Value = Tag> {
    (any::<u32>(), 1usize..=4).prop_filter_map("well-formed tag", move |(raw, len)| {
        let mut bytes = raw.to_be_bytes();
        let b = &mut bytes[4 - len..];
        if len == 1 {
            b[0] &= !0x20;
            if b[0] & 0x1F == 0x1F {
                b[0] &= !0x01;
            }
        } else {
            b[0] |= 0x1F;
            for x in &mut b[1..len - 1] {
                *x |= 0x80;
            }
            b[len - 1] &= 0x7F;
        }
        if b[0] == 0 {
            return None;
        }
        b[0] = if constructed {
            b[0] | 0x20
        } else {
            b[0] & !0x20
        };
        Tag::from_bytes(b)
    })
}

fn any_tree() -> impl Strategy<Value = Vec<Owned>> {
    let leaf = (
        any_tag(false),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(t, v)| Owned::Prim(t, v));
    let tree = leaf.prop_recursive(MAX_DEPTH as u32 - 1, 64, 6, |inner| {
        (any_tag(true), proptest::collection::vec(inner, 0..6))
            .prop_map(|(t, kids)| Owned::Cons(t, kids))
    });
    proptest::collection::vec(tree, 0..6)
}

proptest! {
    #[test]
    fn emit_then_parse_gives_the_tree(tree in any_tree()) {
        let nodes = leak(&tree);
        let len = encoded_len(nodes).unwrap();
        let mut buf = vec![0u8; len];
        prop_assert_eq!(emit(nodes, &mut buf).unwrap(), len);
        let mut expected = Vec::new();
        flatten(&tree, 0, &mut expected);
        let mut got = Vec::new();
        walk(&buf, &mut |t| {
            got.push((t.depth(), t.tag.value(), (!t.is_constructed()).then(|| t.value.to_vec())));
            Ok(())
        }).unwrap();
        prop_assert_eq!(got, expected);
        // Already canonical: normalizing changes nothing.
        let mut again = vec![0u8; len];
        prop_assert_eq!(normalize(&buf, &mut again).unwrap(), len);
        prop_assert_eq!(again, buf.clone());
        // One byte short: refused, buffer untouched.
        if len > 0 {
            let mut short = vec![0xEEu8; len - 1];
            prop_assert_eq!(emit(nodes, &mut short), Err(Error::BufferTooSmall { needed: len }));
            prop_assert!(short.iter().all(|&b| b == 0xEE));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = validate(&data);
        let _ = find(&data, Tag::AC);
        let _ = ReceiptTags::from_tlv(&data);
        let mut s = String::new();
        let _ = write_pretty(&data, &mut s);
        let mut buf = vec![0u8; data.len() * 2 + 16];
        if let Ok(n) = normalize(&data, &mut buf) {
            // Whatever parses normalizes to the same tree, and normalizing is idempotent.
            prop_assert_eq!(collect(&buf[..n]).len(), collect(&data).len());
            let mut again = vec![0u8; n];
            prop_assert_eq!(normalize(&buf[..n], &mut again), Ok(n));
            prop_assert_eq!(&again[..], &buf[..n]);
        }
    }
}
