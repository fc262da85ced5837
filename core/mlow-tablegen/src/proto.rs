//! Just enough of the protobuf wire format to read the three seed messages: varints,
//! length-delimited fields (bytes and packed scalars) and 32/64-bit fixed fields.

/// One raw field value as it appeared on the wire.
#[derive(Clone, Copy, Debug)]
pub enum Raw<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (value not needed by any seed field).
    Fixed64,
    /// Wire type 2: bytes, a string, a sub-message or a packed run.
    Len(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

/// A parsed message: every (field number, value) pair in wire order.
pub struct Message<'a> {
    fields: Vec<(u32, Raw<'a>)>,
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err("varint longer than 10 bytes".into())
}

impl<'a> Message<'a> {
    /// Split `buf` into its fields.
    pub fn parse(buf: &'a [u8]) -> Result<Self, String> {
        let mut pos = 0;
        let mut fields = Vec::new();
        while pos < buf.len() {
            let key = varint(buf, &mut pos)?;
            let number = u32::try_from(key >> 3).map_err(|_| "field number too large")?;
            let raw = match key & 7 {
                0 => Raw::Varint(varint(buf, &mut pos)?),
                1 => {
                    let b = buf.get(pos..pos + 8).ok_or("truncated fixed64")?;
                    pos += 8;
                    let _ = b;
                    Raw::Fixed64
                }
                2 => {
                    let n = usize::try_from(varint(buf, &mut pos)?).map_err(|_| "length")?;
                    let b = buf
                        .get(pos..pos + n)
                        .ok_or("truncated length-delimited field")?;
                    pos += n;
                    Raw::Len(b)
                }
                5 => {
                    let b = buf.get(pos..pos + 4).ok_or("truncated fixed32")?;
                    pos += 4;
                    Raw::Fixed32(u32::from_le_bytes(b.try_into().unwrap()))
                }
                w => return Err(format!("unsupported wire type {w}")),
            };
            fields.push((number, raw));
        }
        Ok(Message { fields })
    }

    fn all(&self, number: u32) -> impl Iterator<Item = Raw<'a>> + '_ {
        self.fields
            .iter()
            .filter(move |(n, _)| *n == number)
            .map(|(_, r)| *r)
    }

    /// A `bytes` field (last occurrence wins, as in proto3); empty when absent.
    pub fn bytes(&self, number: u32) -> Vec<u8> {
        self.all(number)
            .filter_map(|r| match r {
                Raw::Len(b) => Some(b.to_vec()),
                _ => None,
            })
            .last()
            .unwrap_or_default()
    }

    /// A scalar varint field; 0 when absent.
    pub fn uint(&self, number: u32) -> u64 {
        self.all(number)
            .filter_map(|r| match r {
                Raw::Varint(v) => Some(v),
                _ => None,
            })
            .last()
            .unwrap_or(0)
    }

    /// A repeated varint field, packed or not.
    pub fn repeated_varint(&self, number: u32) -> Result<Vec<u64>, String> {
        let mut out = Vec::new();
        for r in self.all(number) {
            match r {
                Raw::Varint(v) => out.push(v),
                Raw::Len(b) => {
                    let mut pos = 0;
                    while pos < b.len() {
                        out.push(varint(b, &mut pos)?);
                    }
                }
                _ => return Err(format!("field {number}: not a varint")),
            }
        }
        Ok(out)
    }

    /// A repeated `uint32` field.
    pub fn repeated_u32(&self, number: u32) -> Result<Vec<u32>, String> {
        self.repeated_varint(number)?
            .into_iter()
            .map(|v| u32::try_from(v).map_err(|_| format!("field {number}: not a uint32")))
            .collect()
    }

    /// A repeated `sint32` field (zig-zag).
    pub fn repeated_sint32(&self, number: u32) -> Result<Vec<i32>, String> {
        Ok(self
            .repeated_varint(number)?
            .into_iter()
            .map(|v| ((v >> 1) as i64 ^ -((v & 1) as i64)) as i32)
            .collect())
    }

    /// A repeated `float` field, packed or not.
    pub fn repeated_f32(&self, number: u32) -> Result<Vec<f32>, String> {
        let mut out = Vec::new();
        for r in self.all(number) {
            match r {
                Raw::Fixed32(v) => out.push(f32::from_bits(v)),
                Raw::Len(b) if b.len() % 4 == 0 => out.extend(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
                ),
                _ => return Err(format!("field {number}: not a float")),
            }
        }
        Ok(out)
    }
}
