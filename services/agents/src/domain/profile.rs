//! Who an agent is: name, contact, languages, skills. Validated once, here.

use comms_proto::Language;

use super::{DomainError, invalid};

const MAX_NAME: usize = 200;
const MAX_EMAIL: usize = 254;
const MAX_EXTENSION: usize = 20;
const MAX_SKILLS: usize = 50;

pub use comms_events::agent::{Profile, ProfileChange, Skill};

pub fn check_name(name: &str) -> Result<(), DomainError> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME
        || name.chars().any(char::is_control)
    {
        return Err(invalid(
            "name",
            format!("1-{MAX_NAME} characters, no control characters"),
        ));
    }
    Ok(())
}

pub fn check_email(email: &str) -> Result<(), DomainError> {
    let ok = email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "email",
            format!("{email:?} is not an email address"),
        ))
    }
}

pub fn check_phone(phone: &str) -> Result<(), DomainError> {
    let digits = phone.strip_prefix('+').unwrap_or("x");
    if phone.is_empty()
        || (digits.len() >= 8
            && digits.len() <= 15
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(())
    } else {
        Err(invalid(
            "phone",
            format!("{phone:?} is not an E.164 number like +14155550100"),
        ))
    }
}

pub fn check_extension(extension: &str) -> Result<(), DomainError> {
    if extension.len() <= MAX_EXTENSION && extension.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(
            "extension",
            format!("up to {MAX_EXTENSION} digits"),
        ))
    }
}

pub use comms_events::agent::{MAX_SKILL_NAME, is_skill_name};

pub fn check_skills(skills: &[Skill]) -> Result<(), DomainError> {
    if skills.len() > MAX_SKILLS {
        return Err(invalid("skills", format!("at most {MAX_SKILLS}")));
    }
    let mut seen = std::collections::HashSet::new();
    for skill in skills {
        if !is_skill_name(&skill.name) {
            return Err(invalid(
                "skills",
                format!(
                    "{:?}: names are 1-{MAX_SKILL_NAME} of a-z, 0-9, _ and -",
                    skill.name
                ),
            ));
        }
        if !(1..=5).contains(&skill.proficiency) {
            return Err(invalid(
                "skills",
                format!(
                    "{}: proficiency {} is not 1-5",
                    skill.name, skill.proficiency
                ),
            ));
        }
        if !seen.insert(&skill.name) {
            return Err(invalid("skills", format!("{} is listed twice", skill.name)));
        }
    }
    Ok(())
}

pub fn parse_languages(codes: &[String]) -> Result<Vec<Language>, DomainError> {
    let mut languages = Vec::new();
    for code in codes {
        let language = Language::parse(code).map_err(|e| invalid("languages", e))?;
        if !languages.contains(&language) {
            languages.push(language);
        }
    }
    Ok(languages)
}

/// Every field checked; the first fault is reported (the gRPC layer collects all of them).
pub fn check(profile: &Profile) -> Result<(), DomainError> {
    check_name(&profile.name)?;
    check_email(&profile.email)?;
    check_phone(&profile.phone)?;
    check_extension(&profile.extension)?;
    check_skills(&profile.skills)
}
