"""Real-shaped ORU^R01 messages, as a laboratory information system sends them: built with
hl7apy (the client side of the tests), or written out as text where the shape itself is tested
(separators, versions, escapes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message

# (LOINC, text, value type, value, unit, range, flag)
CBC = [
    ("718-7", "Hemoglobin", "NM", "128", "g/L", "130-170", "L"),
    ("6690-2", "Leukocytes", "NM", "7.2", "10*9/L", "4.0-9.0", "N"),
    ("777-3", "Platelets", "NM", "245", "10*9/L", "150-400", "N"),
    ("789-8", "Erythrocytes", "NM", "4.6", "10*12/L", "4.0-5.5", "N"),
    ("4544-3", "Hematocrit", "NM", "41", "%", "39-49", "N"),
]
BMP = [
    ("2951-2", "Sodium", "NM", "139", "mmol/L", "136-145", "N"),
    ("2823-3", "Potassium", "NM", "4.4", "mmol/L", "3.5-5.1", "N"),
    ("2075-0", "Chloride", "NM", "101", "mmol/L", "98-107", "N"),
    ("2028-9", "Carbon dioxide", "NM", "25", "mmol/L", "22-29", "N"),
    ("3094-0", "Urea nitrogen", "NM", "5.1", "mmol/L", "2.5-7.1", "N"),
    ("2160-0", "Creatinine", "NM", "88", "umol/L", "62-106", "N"),
    ("2345-7", "Glucose", "NM", "5.4", "mmol/L", "3.9-6.1", "N"),
    ("17861-6", "Calcium", "NM", "2.31", "mmol/L", "2.15-2.55", "N"),
    ("33037-3", "Anion gap", "NM", "13", "mmol/L", "8-16", "N"),
    ("62238-1", "eGFR (CKD-EPI)", "NM", "84", "mL/min/{1.73_m2}", ">60", "N"),
]


@dataclass
class Oru:
    control_id: str
    snils: str = ""
    sending_facility: str = "CITYLAB"
    panel: tuple[str, str] = ("58410-2", "CBC panel")
    values: list[tuple[str, str, str, str, str, str, str]] = field(default_factory=lambda: CBC)
    filler: str = "F-1001"
    placer: str = ""
    status: str = "F"
    version: str = "2.5.1"
    message_type: str = "ORU^R01^ORU_R01"
    value_status: str = "F"
    identifiers: str = ""

    def build(self) -> str:
        message = Message("ORU_R01", version="2.5.1", validation_level=VALIDATION_LEVEL.TOLERANT)
        msh = message.msh
        msh.msh_3 = "ALISA"
        msh.msh_4 = self.sending_facility
        msh.msh_5 = "FARCARE"
        msh.msh_6 = "HUB"
        msh.msh_7 = "20261206093000+1200"
        msh.msh_9 = self.message_type
        msh.msh_10 = self.control_id
        msh.msh_11 = "P"
        msh.msh_12 = self.version
        result = message.add_group("ORU_R01_PATIENT_RESULT")
        patient = result.add_group("ORU_R01_PATIENT")
        patient.pid.pid_1 = "1"
        patient.pid.pid_3 = self.identifiers or f"{self.snils}^^^SNILS^PT"
        patient.pid.pid_5 = "Иванов^Иван^Иванович"
        patient.pid.pid_7 = "19700101"
        patient.pid.pid_8 = "M"
        order = result.add_group("ORU_R01_ORDER_OBSERVATION")
        order.orc.orc_1 = "RE"
        if self.placer:
            order.orc.orc_2 = self.placer
            order.obr.obr_2 = self.placer
        if self.filler:
            order.orc.orc_3 = self.filler
            order.obr.obr_3 = self.filler
        order.obr.obr_1 = "1"
        order.obr.obr_4 = f"{self.panel[0]}^{self.panel[1]}^LN"
        order.obr.obr_7 = "20261206080000+1200"
        order.obr.obr_22 = "20261206092500+1200"
        order.obr.obr_25 = self.status
        for number, (code, text, kind, value, unit, ref, flag) in enumerate(self.values, 1):
            obx = order.add_group("ORU_R01_OBSERVATION").obx
            obx.obx_1 = str(number)
            obx.obx_2 = kind
            obx.obx_3 = f"{code}^{text}^LN"
            obx.obx_5 = value
            if unit:
                obx.obx_6 = f"{unit}^^UCUM"
            if ref:
                obx.obx_7 = ref
            if flag:
                obx.obx_8 = flag
            obx.obx_11 = self.value_status
            obx.obx_14 = "20261206080000+1200"
        return str(message.to_er7())
