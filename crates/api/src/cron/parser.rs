//! robfig/cron v3.0.1 `parser.go`: `ParseStandard` and the field grammar,
//! with its error texts.

use super::go::{atoi, parse_duration};
use super::spec::{Bounds, SpecSchedule, DOM, DOW, HOURS, MINUTES, MONTHS, SECONDS, STAR_BIT};
use super::zone::{load_location, Zone};
use super::{Schedule, ScheduleError};

/// robfig `ParseStandard` (`Minute | Hour | Dom | Month | Dow | Descriptor`).
pub fn parse_standard(spec: &str) -> Result<Schedule, ScheduleError> {
    parse(spec, false)
}

/// The parser with a leading seconds field, as robfig's tests'
/// `secondParser` (`Second | Minute | Hour | Dom | Month | DowOptional |
/// Descriptor`), so `spec_test.go`'s `TestNext` table ports unchanged.
#[cfg(test)]
pub(crate) fn parse_with_seconds(spec: &str) -> Result<Schedule, ScheduleError> {
    parse(spec, true)
}

fn err(msg: String) -> ScheduleError {
    ScheduleError(msg)
}

fn parse(spec: &str, seconds: bool) -> Result<Schedule, ScheduleError> {
    if spec.is_empty() {
        return Err(err("empty spec string".into()));
    }
    let mut spec = spec;
    // Leading `TZ=`/`CRON_TZ=` names the zone, up to the first space.
    let mut loc: Option<Zone> = None;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').expect("prefix has '='");
        // robfig slices `spec[eq+1:i]` with `i = strings.Index(spec, " ")`,
        // which panics when there is no space; kube-apiserver answers such
        // a request with a 500. joblite refuses it as a bad location.
        let Some(i) = spec.find(' ') else {
            return Err(err(format!(
                "provided bad location {}: missing schedule after the time zone",
                &spec[eq + 1..]
            )));
        };
        let name = &spec[eq + 1..i];
        loc = Some(
            load_location(name).map_err(|e| err(format!("provided bad location {name}: {e}")))?,
        );
        spec = spec[i..].trim();
    }
    if spec.starts_with('@') {
        return parse_descriptor(spec, loc);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    let fields = normalize_fields(fields, seconds)?;
    let bits = |f: &str, b: &Bounds| get_field(f, b);
    Ok(Schedule::Spec(SpecSchedule {
        second: bits(fields[0], &SECONDS)?,
        minute: bits(fields[1], &MINUTES)?,
        hour: bits(fields[2], &HOURS)?,
        dom: bits(fields[3], &DOM)?,
        month: bits(fields[4], &MONTHS)?,
        dow: bits(fields[5], &DOW)?,
        location: loc,
    }))
}

/// robfig `normalizeFields` for the two parsers used here.
fn normalize_fields(mut fields: Vec<&str>, seconds: bool) -> Result<Vec<&str>, ScheduleError> {
    let count = fields.len();
    let list = format!("[{}]", fields.join(" "));
    if seconds {
        // Second | Minute | Hour | Dom | Month | DowOptional.
        if !(5..=6).contains(&count) {
            return Err(err(format!(
                "expected 5 to 6 fields, found {count}: {list}"
            )));
        }
        if count == 5 {
            fields.push("*");
        }
        return Ok(fields);
    }
    if count != 5 {
        return Err(err(format!(
            "expected exactly 5 fields, found {count}: {list}"
        )));
    }
    fields.insert(0, "0");
    Ok(fields)
}

/// robfig `getField`: a comma-separated list of ranges (empty items are
/// skipped, as `strings.FieldsFunc` skips them).
pub(crate) fn get_field(field: &str, r: &Bounds) -> Result<u64, ScheduleError> {
    let mut bits = 0;
    for expr in field.split(',').filter(|e| !e.is_empty()) {
        bits |= get_range(expr, r)?;
    }
    Ok(bits)
}

/// robfig `getRange`: `number | number "-" number [ "/" number ]`, `*`/`?`.
pub(crate) fn get_range(expr: &str, r: &Bounds) -> Result<u64, ScheduleError> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single_digit = low_and_high.len() == 1;
    let (start, mut end);
    let mut extra = 0u64;
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        start = r.min;
        end = r.max;
        extra = STAR_BIT;
    } else {
        start = parse_int_or_name(low_and_high[0], r.names)?;
        end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], r.names)?,
            _ => return Err(err(format!("too many hyphens: {expr}"))),
        };
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            // "N/step" means "N-max/step".
            if single_digit {
                end = r.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(err(format!("too many slashes: {expr}"))),
    };
    if start < r.min {
        return Err(err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            r.min
        )));
    }
    if end > r.max {
        return Err(err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            r.max
        )));
    }
    if start > end {
        return Err(err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        )));
    }
    if step == 0 {
        return Err(err(format!(
            "step of range should be a positive number: {expr}"
        )));
    }
    Ok(get_bits(start, end, step) | extra)
}

fn parse_int_or_name(expr: &str, names: &[(&str, u64)]) -> Result<u64, ScheduleError> {
    let lower = expr.to_lowercase();
    if let Some((_, v)) = names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    must_parse_int(expr)
}

fn must_parse_int(expr: &str) -> Result<u64, ScheduleError> {
    let num = atoi(expr).map_err(|e| err(format!("failed to parse int from {expr}: {e}")))?;
    if num < 0 {
        return Err(err(format!("negative number ({num}) not allowed: {expr}")));
    }
    Ok(num as u64)
}

/// robfig `getBits`: the bits of `[min, max]` stepping by `step`.
pub(crate) fn get_bits(min: u64, max: u64, step: u64) -> u64 {
    let shl = |x: u64, n: u64| if n >= 64 { 0 } else { x << n };
    if step == 1 {
        return !shl(u64::MAX, max + 1) & shl(u64::MAX, min);
    }
    let mut bits = 0;
    let mut i = min;
    while i <= max {
        bits |= shl(1, i);
        match i.checked_add(step) {
            Some(n) => i = n,
            None => break,
        }
    }
    bits
}

/// robfig `all`: every bit of the bounds plus the star bit.
pub(crate) fn all(r: &Bounds) -> u64 {
    get_bits(r.min, r.max, 1) | STAR_BIT
}

fn parse_descriptor(descriptor: &str, loc: Option<Zone>) -> Result<Schedule, ScheduleError> {
    let spec = |minute, hour, dom, month, dow| {
        Ok(Schedule::Spec(SpecSchedule {
            second: 1 << SECONDS.min,
            minute,
            hour,
            dom,
            month,
            dow,
            location: loc,
        }))
    };
    let (m0, h0, d1, mo1, w0) = (
        1 << MINUTES.min,
        1 << HOURS.min,
        1 << DOM.min,
        1 << MONTHS.min,
        1 << DOW.min,
    );
    match descriptor {
        "@yearly" | "@annually" => return spec(m0, h0, d1, mo1, all(&DOW)),
        "@monthly" => return spec(m0, h0, d1, all(&MONTHS), all(&DOW)),
        "@weekly" => return spec(m0, h0, all(&DOM), all(&MONTHS), w0),
        "@daily" | "@midnight" => return spec(m0, h0, all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => return spec(m0, all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        _ => {}
    }
    if let Some(d) = descriptor.strip_prefix("@every ") {
        let nanos = parse_duration(d)
            .map_err(|e| err(format!("failed to parse duration {descriptor}: {e}")))?;
        return Ok(Schedule::every(nanos));
    }
    Err(err(format!("unrecognized descriptor: {descriptor}")))
}
