*** Settings ***
Documentation     Every test here fails, each for its own reason, said in its message.
Library           LocalVision    ${URL}    api_key=${KEY}

*** Variables ***
${URL}            http://127.0.0.1:8000
${KEY}            ${EMPTY}
${PHOTOS}         photos
${SIGN}           sign.jpg

*** Test Cases ***
The Cat Photo Shows Espresso
    Image Should Show    ${PHOTOS}/chelsea.jpg    espresso

The Cat Photo Does Not Show A Cat
    Image Should Not Show    ${PHOTOS}/chelsea.jpg    cat

A Photo The Service Is Not Sure About
    Image Should Show    ${PHOTOS}/chelsea.jpg    tiger cat    min_confidence=0.9

A Label The Model Does Not Have
    Image Should Show    ${PHOTOS}/chelsea.jpg    dgo

A Rule Nobody Saved
    Judge Image    ${PHOTOS}/chelsea.jpg    rule=nobody-saved-this

The Sign Does Not Say Exit
    Image Should Contain Text    ${SIGN}    EXIT
