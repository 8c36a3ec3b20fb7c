//! Where a policy is written ([`PolicySink`]): the one rendering of a policy serves
//! the header string, its `Display`, and the template split around nonce slots.

/// Where a policy is written: text pieces and the nonce slots between them.
pub(crate) trait PolicySink {
    fn text(&mut self, text: &str);
    fn nonce(&mut self);
}

/// Writes a policy into a string with a fixed nonce text.
pub(crate) struct StringSink<'a> {
    out: String,
    nonce: &'a str,
}

impl<'a> StringSink<'a> {
    pub(crate) fn new(nonce: &'a str) -> Self {
        Self {
            out: String::new(),
            nonce,
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

impl PolicySink for StringSink<'_> {
    fn text(&mut self, text: &str) {
        self.out.push_str(text);
    }

    fn nonce(&mut self) {
        self.out.push_str(self.nonce);
    }
}
