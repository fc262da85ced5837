//! Writes Rust source for nested fixed-size arrays.

use std::fmt::Write as _;

/// A scalar that can be written as a Rust literal.
pub trait Lit: Copy {
    /// The Rust type name.
    const TY: &'static str;
    /// The literal text (exact: floats use the shortest round-trip form).
    fn lit(self) -> String;
}

macro_rules! int_lit {
    ($($t:ty),*) => {$(
        impl Lit for $t {
            const TY: &'static str = stringify!($t);
            fn lit(self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_lit!(u8, i8, u16, i16, u32, i32);

impl Lit for f32 {
    const TY: &'static str = "f32";
    fn lit(self) -> String {
        // Debug prints the shortest text that parses back to the same bits; make sure it reads as
        // a float literal.
        let s = format!("{self:?}");
        if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
            s
        } else {
            format!("{s}.0")
        }
    }
}

/// One generated source file.
pub struct File {
    text: String,
}

impl File {
    /// A file starting with `header` (comment lines).
    pub fn new(header: &str) -> Self {
        File {
            text: header.to_string(),
        }
    }

    /// Append raw text.
    pub fn raw(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// `pub static NAME: [[T; d1]; d0] = …;` with `shape` outermost first.
    pub fn array<T: Lit>(&mut self, doc: &str, name: &str, shape: &[usize], data: &[T]) {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "{name}: shape does not match data"
        );
        let mut ty = T::TY.to_string();
        for d in shape.iter().rev() {
            ty = format!("[{ty}; {d}]");
        }
        for line in doc.lines() {
            writeln!(self.text, "/// {line}").unwrap();
        }
        write!(self.text, "pub static {name}: {ty} = ").unwrap();
        nested(&mut self.text, shape, data, 0);
        self.text.push_str(";\n\n");
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.text
    }
}

fn nested<T: Lit>(out: &mut String, shape: &[usize], data: &[T], depth: usize) {
    if shape.len() == 1 {
        out.push('[');
        for (i, v) in data.iter().enumerate() {
            if i > 0 {
                out.push_str(if i % 16 == 0 { ",\n" } else { ", " });
                if i % 16 == 0 {
                    out.push_str(&"    ".repeat(depth + 1));
                }
            }
            out.push_str(&v.lit());
        }
        out.push(']');
        return;
    }
    let inner: usize = shape[1..].iter().product();
    out.push_str("[\n");
    for chunk in data.chunks(inner) {
        out.push_str(&"    ".repeat(depth + 1));
        nested(out, &shape[1..], chunk, depth + 1);
        out.push_str(",\n");
    }
    out.push_str(&"    ".repeat(depth));
    out.push(']');
}
